// multi: several isolated clusters from one loop. Each gets its own
// network, and the nodes are named after their cluster.
//
//	docker rke up samples/multi.go
package main

import (
	"fmt"

	"rke"
)

// workers is how many worker nodes each environment gets.
var workers = map[string]int{"dev": 1, "staging": 2}

func main() {
	for _, env := range []string{"dev", "staging"} {
		c := rke.NewCluster(env)
		c.Node(fmt.Sprintf("%s-cp", env), rke.ControlPlane, rke.Etcd)
		for i := 1; i <= workers[env]; i++ {
			c.Node(fmt.Sprintf("%s-worker%d", env, i), rke.Worker).
				Label("environment", env)
		}
	}
}
