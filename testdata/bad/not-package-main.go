package clusters // want "package main"

import "rke"

func main() {
	rke.NewCluster("c1")
}
