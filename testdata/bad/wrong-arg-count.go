package main

import (
	"fmt"

	"rke"
)

var _ = fmt.Sprint

func main() {
	c := rke.NewCluster() // want "NewCluster"
	c.Node("n1", rke.All()...)
}
