// cluster1: the first cluster of the RKE DIND article. One node runs every
// role; two more are workers.
//
//	docker rke up samples/cluster1.go
package main

import (
	"fmt"

	"rke"
)

func main() {
	c := rke.NewCluster("cluster1")
	c.Node("cluster1-node1", rke.All()...)
	for i := 2; i <= 3; i++ {
		c.Node(fmt.Sprintf("cluster1-node%d", i), rke.Worker)
	}
}
