package main

import (
	"fmt"

	"rke"
)

var _ = fmt.Sprint

func main() {
	c := rke.NewCluster("this-cluster-name-is-far-too-long-for-docker-rke") // want "the limit is 40"
	c.Node("n1", rke.All()...)
}
