package dsl

import (
	"strings"
	"testing"

	"github.com/docker-rke/docker-rke/model"
)

// TestCrashMessage: what the Go runtime prints as the evaluating process
// dies says why, in the user's words; memory runs out in several ways.
func TestCrashMessage(t *testing.T) {
	at := model.Position{Line: 10}
	memory := "the script used more than 256 MiB of memory; it was running this statement"
	for stderr, want := range map[string]string{
		"fatal error: runtime: out of memory\n...":                                        memory,
		"runtime: cannot allocate memory":                                                 memory,
		"runtime/cgo: pthread_create failed: Resource temporarily unavailable\nSIGABRT":   memory,
		"runtime: failed to create new OS thread (have 7 already; errno=11)\nfatal error": memory,
		"runtime: goroutine stack exceeds 67108864-byte limit":                            "the script's calls nested too deep (its stack grew past 64 MiB); it was running this statement",
		"panic: something else\n\ngoroutine 1":                                            "evaluating the script failed (panic: something else); it was running this statement",
	} {
		if got := crashMessage(stderr, at); got != want {
			t.Errorf("%q:\n got %q\nwant %q", stderr, got, want)
		}
	}
	if got := crashMessage("fatal error: runtime: out of memory", model.Position{}); !strings.HasSuffix(got, "; it was being compiled") {
		t.Errorf("while compiling: %q", got)
	}
}
