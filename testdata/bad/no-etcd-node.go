package main

import (
	"fmt"

	"rke"
)

var _ = fmt.Sprint

func main() {
	c := rke.NewCluster("c1") // want "no node has the etcd role"
	c.Node("n1", rke.ControlPlane, rke.Worker)
}
