package main

import (
	"fmt"

	"rke"
)

var _ = fmt.Sprint

func main() {
	go func() { // want "go statements"
		for {
		}
	}()
	rke.NewCluster("c1")
}
