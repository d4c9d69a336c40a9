package main

import (
	"strings"

	"rke"
)

func main() {
	rke.NewCluster("c").Node("n", rke.All()...)
	s := strings.Repeat("docker rke ", 1<<32) // want "the script used more than 256 MiB of memory"
	_ = s
}
