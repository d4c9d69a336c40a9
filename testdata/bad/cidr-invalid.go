package main

import (
	"fmt"

	"rke"
)

var _ = fmt.Sprint

func main() {
	c := rke.NewCluster("c1")
	c.PodCIDR("10.42.0.0/33") // want "not a CIDR"
	c.Node("n1", rke.All()...)
}
