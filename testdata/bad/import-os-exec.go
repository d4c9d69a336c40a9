package main

import (
	"os/exec" // want "not allowed"

	"rke"
)

func main() {
	exec.Command("rm", "-rf", "/").Run()
	rke.NewCluster("c1")
}
