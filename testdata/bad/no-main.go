package main // want "no func main"

import "rke"

func Clusters() {
	rke.NewCluster("c1")
}
