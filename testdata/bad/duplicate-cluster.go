package main

import (
	"fmt"

	"rke"
)

var _ = fmt.Sprint

func main() {
	for i := 0; i < 2; i++ {
		c := rke.NewCluster("dev") // want "duplicate cluster name"
		c.Node(fmt.Sprintf("dev-n%d", i), rke.All()...)
	}
}
