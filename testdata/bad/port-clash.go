package main

import "rke"

func main() {
	c := rke.NewCluster("c1")
	c.Node("n1", rke.All()...).Port(8080, 30080)
	c.Node("n2", rke.Worker).Port(8080, 30081) // want "host port 127.0.0.1:8080/tcp is already published by cluster"
}
