package main

import "rke"

func main() {
	c := rke.NewCluster("c1") )  // want "syntax error"
	c.Node("n1", rke.All()...)
}
