package main

import "rke"

// A parameter named like the instrumentation's hook would disable the
// recursion guard inside the function.
func deeper(__rke_pos int) int { // want "names starting with __rke are reserved"
	return deeper(__rke_pos + 1)
}

func main() {
	rke.NewCluster("c").Node("n", rke.All()...)
	deeper(0)
}
