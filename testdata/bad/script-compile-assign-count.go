package main

import "rke"

func main() {
	rke.NewCluster("c").Node("n", rke.All()...)
	a, b := 1 // want "unsupported assign expression"
	_, _ = a, b
}
