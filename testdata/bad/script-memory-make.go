package main

import "rke"

func main() {
	rke.NewCluster("c").Node("n", rke.All()...)
	b := make([]byte, 1<<40) // want "the script used more than 256 MiB of memory"
	_ = b
}
