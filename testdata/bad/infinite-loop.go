package main

import (
	"fmt"

	"rke"
)

var _ = fmt.Sprint

func main() {
	c := rke.NewCluster("c1")
	c.Node("n1", rke.All()...)
	for { // want "did not finish"
	}
}
