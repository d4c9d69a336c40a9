package main

import (
	"fmt"

	"rke"
)

var _ = fmt.Sprint

func main() {
	c := rke.NewCluster("big")
	for i := 0; i < 10000; i++ {
		c.Node(fmt.Sprintf("big-node%d", i), rke.All()...) // want "the limit is 100"
	}
}
