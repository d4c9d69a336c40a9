package main

import "rke"

func main() {
	c := rke.NewCluster("c")
	c.ExtraArgs(rke.Kubelet, map[string]string{"v 2 --anonymous-auth": "true"}) // want "want letters, digits and dashes"
	c.Node("n", rke.All()...)
}
