package main

import (
	"fmt"

	"rke"
)

var _ = fmt.Sprint

func main() {
	c := rke.NewCluster("c1")
	c.PodCIDR("10.42.0.0/16")
	c.ServiceCIDR("10.42.128.0/20") // want "overlaps"
	c.Node("n1", rke.All()...)
}
