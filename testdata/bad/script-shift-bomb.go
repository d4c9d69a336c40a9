package main

import "rke"

const huge = 1 << 1000000 // want "constants larger than 1024 bits are refused"

func main() {
	rke.NewCluster("c").Node("n", rke.All()...)
	_ = huge > 0
}
