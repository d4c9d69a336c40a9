package main

import "rke"

type deep struct{}

func (d deep) Error() string { return d.Error() }

func main() {
	rke.NewCluster("c").Node("n", rke.All()...)
	var err error = deep{}
	panic(err) // want "script panicked: a value of type"
}
