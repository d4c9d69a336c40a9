package main

import "rke"

func main() {
	c := rke.NewCluster("c1")
	n := c.Node("n1", rke.All()...)
	n.Mount("./no-such-folder", "/data", true) // want "no-such-folder: no such file or directory"
}
