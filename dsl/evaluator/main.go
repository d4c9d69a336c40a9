// Command evaluator is the process that evaluates one cluster script for
// docker rke (see dsl/child.go). It links the interpreter, the script API
// and the model, and nothing that talks to Docker or Kubernetes: the
// process that runs a script someone else wrote holds no client, and
// starts in a few milliseconds. docker rke carries it inside its own
// binary (make build) and runs it from memory.
package main

import (
	"fmt"
	"os"

	"github.com/docker-rke/docker-rke/dsl"
)

func main() {
	dsl.RunChildIfAsked()
	fmt.Fprintln(os.Stderr, "evaluator: docker rke runs this to evaluate a cluster script; it is not a command")
	os.Exit(2)
}
