package main

import (
	"fmt"
	"time"

	"rke"
)

var _ = fmt.Sprint

func main() {
	c := rke.NewCluster("c1")
	_ = time.Now() // want "no symbol Now"
	c.Node("n1", rke.All()...)
}
