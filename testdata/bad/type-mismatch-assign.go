package main

import (
	"fmt"

	"rke"
)

var _ = fmt.Sprint

func main() {
	var n int = rke.NewCluster("c1") // want "int"
	_ = n
}
