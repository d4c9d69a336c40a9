package main

import "rke"

func main() {
	c := rke.NewCluster("c1")
	c.Node("n1", rke.All()...
} // want "syntax error"
