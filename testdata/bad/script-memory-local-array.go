package main

import "rke"

func main() {
	rke.NewCluster("c").Node("n", rke.All()...)
	var a [1 << 31]byte // want "array of 2147483648 elements"
	_ = a
}
