// cluster2: the article's HA cluster. Three nodes, each with every role, so
// etcd and the control plane survive the loss of any one node.
//
//	docker rke up samples/cluster2.go
package main

import (
	"fmt"

	"rke"
)

func main() {
	const name = "cluster2"
	c := rke.NewCluster(name)
	for i := 1; i <= 3; i++ {
		c.Node(fmt.Sprintf("%s-node%d", name, i), rke.All()...)
	}
}
