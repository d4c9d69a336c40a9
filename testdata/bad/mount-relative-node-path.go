package main

import "rke"

func main() {
	c := rke.NewCluster("c1")
	c.Node("n1", rke.All()...).Mount("/tmp", "data", false) // want "want a clean absolute path"
}
