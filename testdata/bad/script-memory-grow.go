package main

import "rke"

// A slice grown in a loop: each append is small, the total is not.
func main() {
	rke.NewCluster("c").Node("n", rke.All()...)
	var chunks [][]byte
	for {
		chunks = append(chunks, make([]byte, 1<<20)) // want "the script used more than 256 MiB of memory"
	}
}
