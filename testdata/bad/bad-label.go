package main

import (
	"fmt"

	"rke"
)

var _ = fmt.Sprint

func main() {
	c := rke.NewCluster("c1")
	c.Node("n1", rke.All()...)
	c.Node("n2", rke.Worker).Label("tier", "not a valid value!") // want "label value"
}
