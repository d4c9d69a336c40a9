package main

import (
	"fmt"

	"rke"
)

// Scripts cannot read input: standard input is always empty, so the name
// stays empty and validation says so.
func main() {
	var name string
	fmt.Scanln(&name)
	c := rke.NewCluster(name) // want "cluster name is empty"
	c.Node("n1", rke.All()...)
}
