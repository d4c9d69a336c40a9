package main

import (
	"fmt"

	"rke"
)

var _ = fmt.Sprint

func main() {
	c := rke.NewClustr("c1") // want "undefined"
	c.Node("n1", rke.All()...)
}
