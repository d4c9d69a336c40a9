package main

import "rke"

func main() {
	c := rke.NewCluster("c1")
	c.Node("n1", rke.All()...).Port(70000, 80) // want "host port 70000: want 1-65535"
}
