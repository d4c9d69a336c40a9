package main

import "rke"

func main() {
	c := rke.NewCluster("c")
	c.ImageRegistry("lab/team") // want "a Docker Hub user"
	c.Node("n", rke.All()...)
}
