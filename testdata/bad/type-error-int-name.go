package main

import (
	"fmt"

	"rke"
)

var _ = fmt.Sprint

func main() {
	c := rke.NewCluster("c1")
	c.Node(42, rke.All()...) // want "42"
}
