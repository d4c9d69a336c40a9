package main

import "rke"

// slices is not imported (and not on the allowlist): it does not exist,
// though the interpreter carries a copy of it.
func main() {
	names := []string{"b", "a"}
	slices.Sort(names) // want "undefined: slices"
	c := rke.NewCluster("c")
	for _, n := range names {
		c.Node(n, rke.All()...)
	}
}
