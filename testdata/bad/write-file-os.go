package main

import (
	"os" // want "not allowed"

	"rke"
)

func main() {
	os.WriteFile("/tmp/pwned", []byte("x"), 0o644)
	rke.NewCluster("c1")
}
