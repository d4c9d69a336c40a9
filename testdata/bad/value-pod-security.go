package main

import "rke"

func main() {
	c := rke.NewCluster("c")
	c.PodSecurity("strict") // want "pod security level"
	c.Node("n1", rke.All()...)
}
