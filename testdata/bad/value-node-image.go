package main

import "rke"

func main() {
	c := rke.NewCluster("c")
	c.Node("n", rke.All()...).NodeImage("Docker RKE/node:latest") // want "invalid reference format"
}
