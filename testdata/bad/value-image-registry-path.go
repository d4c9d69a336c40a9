package main

import "rke"

func main() {
	c := rke.NewCluster("c")
	c.ImageRegistry("registry.lab:5000/Team") // want "optional path of lowercase names"
	c.Node("n", rke.All()...)
}
