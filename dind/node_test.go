package dind

import (
	"os"
	"strings"
	"testing"
)

// The entrypoint prints every milestone the steps after a boot wait for:
// a renamed line on one side would leave them waiting until their
// deadline.
func TestEntrypointPrintsTheMilestones(t *testing.T) {
	src, err := os.ReadFile("../images/node/entrypoint.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range Milestones() {
		line, ok := strings.CutPrefix(string(m), "entrypoint: ")
		if !ok || !strings.Contains(string(src), `log "`+line) {
			t.Errorf("entrypoint.sh never prints milestone %q (log %q)", m, line)
		}
	}
}
