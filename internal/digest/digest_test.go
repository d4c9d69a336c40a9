package digest

import (
	"io"
	"testing"
)

// The values are sha256sum's (printf docker-rke | sha256sum, and of
// {"a":1,"b":2}). The names are what images and labels were made with: a change of how
// they are computed would rebuild every image and replace every node.
func TestStable(t *testing.T) {
	h := New()
	_, _ = io.WriteString(h, "docker-rke")
	if got := Short(h, Tag); got != "4607dd81428f" {
		t.Errorf("Short = %s", got)
	}
	if got := JSON(map[string]int{"b": 2, "a": 1}, Label); got != "43258cff783fe703" {
		t.Errorf("JSON = %s", got)
	}
}
