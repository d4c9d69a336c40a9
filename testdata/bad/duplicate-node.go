package main

import (
	"fmt"

	"rke"
)

var _ = fmt.Sprint

func main() {
	c := rke.NewCluster("c1")
	c.Node("n1", rke.All()...)
	for i := 0; i < 2; i++ {
		c.Node("n2", rke.Worker) // want "duplicate node name"
	}
}
