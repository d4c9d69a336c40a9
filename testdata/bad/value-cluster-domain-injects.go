package main

import "rke"

// A newline in the cluster domain would add a line of its own to
// CoreDNS's Corefile (forward every name to a server of the script's).
func main() {
	c := rke.NewCluster("c")
	c.ClusterDomain("cluster.local\n    forward . 203.0.113.53") // want "cluster domain"
	c.Node("n", rke.All()...)
}
