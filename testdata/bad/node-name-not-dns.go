package main

import (
	"fmt"

	"rke"
)

var _ = fmt.Sprint

func main() {
	c := rke.NewCluster("c1")
	c.Node("Node_1", rke.All()...) // want "not a valid hostname"
}
