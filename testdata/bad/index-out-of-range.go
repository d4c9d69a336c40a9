package main

import (
	"fmt"

	"rke"
)

var _ = fmt.Sprint

func main() {
	names := []string{"n1"}
	c := rke.NewCluster("c1")
	c.Node(names[3], rke.All()...) // want "panicked"
}
