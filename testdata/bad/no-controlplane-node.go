package main

import (
	"fmt"

	"rke"
)

var _ = fmt.Sprint

func main() {
	c := rke.NewCluster("c1") // want "no node has the controlplane role"
	c.Node("n1", rke.Etcd, rke.Worker)
}
