package main

import (
	"fmt"

	"rke"
)

var _ = fmt.Sprint

func main() {
	c := rke.NewCluster("c1") // want "no node has the worker role"
	c.Node("n1", rke.ControlPlane, rke.Etcd)
}
