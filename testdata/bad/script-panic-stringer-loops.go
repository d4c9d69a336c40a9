package main

import "rke"

type name struct{}

func (name) String() string {
	for {
	}
}

func main() {
	rke.NewCluster("c").Node("n", rke.All()...)
	panic(name{}) // want "script panicked: a value of type"
}
