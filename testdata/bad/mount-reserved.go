package main

import "rke"

func main() {
	c := rke.NewCluster("c1")
	c.Node("n1", rke.All()...).Mount("/tmp", "/var/lib/kubelet/pods", false) // want "the node keeps its own files in /var/lib/kubelet"
}
