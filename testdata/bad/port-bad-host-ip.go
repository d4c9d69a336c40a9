package main

import "rke"

func main() {
	c := rke.NewCluster("c1")
	c.Node("n1", rke.All()...).Port(8080, 80, rke.HostIP("localhost")) // want "is not an IP address"
}
