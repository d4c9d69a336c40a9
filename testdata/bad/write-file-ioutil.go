package main

import (
	"io/ioutil" // want "not allowed"

	"rke"
)

func main() {
	ioutil.WriteFile("/tmp/pwned", []byte("x"), 0o644)
	rke.NewCluster("c1")
}
