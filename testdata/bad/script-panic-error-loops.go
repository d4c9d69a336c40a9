package main

import "rke"

// The panic value's Error method never returns: docker rke must not call
// it once the evaluation is over.
type stuck struct{}

func (stuck) Error() string {
	for {
	}
}

func main() {
	rke.NewCluster("c").Node("n", rke.All()...)
	var err error = stuck{}
	panic(err) // want "script panicked: a value of type"
}
