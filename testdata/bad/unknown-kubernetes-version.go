package main

import (
	"fmt"

	"rke"
)

var _ = fmt.Sprint

func main() {
	c := rke.NewCluster("c1")
	c.KubernetesVersion("v1.12.4") // want "buildable"
	c.Node("n1", rke.All()...)
}
