package main

import "rke"

type A B
type B A

func main() {
	rke.NewCluster("c").Node("n", rke.All()...)
	var a A // want "the script cannot be compiled"
	_ = a
}
