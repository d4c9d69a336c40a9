package main

import (
	"fmt"

	"rke"
)

var _ = fmt.Sprint

func main() {
	var c *rke.Cluster
	c.Node("n1", rke.All()...) // want "panicked"
}
