package main

import "rke"

// 0.0.0.0 takes the port on every address, 127.0.0.1 included, and the
// clash spans clusters: they share the engine's host.
func main() {
	a := rke.NewCluster("a")
	a.Node("a1", rke.All()...).Port(9000, 30000, rke.UDP, rke.HostIP("127.0.0.1"))
	b := rke.NewCluster("b")
	b.Node("b1", rke.All()...).Port(9000, 30000, rke.AllAddresses, rke.UDP) // want "host port 0.0.0.0:9000/udp is already published by cluster"
}
