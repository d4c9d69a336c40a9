package main

import "rke"

func grow(c *rke.Cluster, i int) {
	grow(c, i+1) // want "deeper than"
}

func main() {
	grow(rke.NewCluster("c1"), 0)
}
