package main

import (
	"net" // want "not allowed"

	"rke"
)

func main() {
	net.Dial("tcp", "127.0.0.1:2375")
	rke.NewCluster("c1")
}
