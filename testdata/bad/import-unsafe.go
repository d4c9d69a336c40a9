package main

import (
	"unsafe" // want "not allowed"

	"rke"
)

func main() {
	_ = unsafe.Sizeof(0)
	rke.NewCluster("c1")
}
