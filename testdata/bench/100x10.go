// The benchmark's script: 100 clusters of 10 nodes each, made in loops.
package main

import (
	"fmt"

	"rke"
)

func main() {
	for i := 0; i < 100; i++ {
		name := fmt.Sprintf("bench%03d", i)
		c := rke.NewCluster(name).PodCIDR("10.42.0.0/16")
		c.Node(name+"-node1", rke.All()...)
		for j := 2; j <= 10; j++ {
			c.Node(fmt.Sprintf("%s-node%d", name, j), rke.Worker).
				Label("index", fmt.Sprint(j))
		}
	}
}
