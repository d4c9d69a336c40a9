package main

import (
	"fmt"

	"rke"
)

func main() {
	rke.NewCluster("c").Node("n", rke.All()...)
	x := fmt // want "the script cannot be compiled"
	_ = x
}
