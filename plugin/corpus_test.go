package plugin

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker-rke/docker-rke/dsl"
)

// noComment holds the expectations of corpus files that cannot carry a
// "want" comment: the line the error must name and a part of its message.
var noComment = map[string]struct {
	line int
	want string
}{
	"empty.go":   {1, "file is empty"},
	"empty.yml":  {1, "file is empty"},
	"binary.go":  {1, "not a text file"},
	"binary.yml": {2, "not a text file"},
}

var wantRE = regexp.MustCompile(`(?://|#) want "([^"]+)"`)

// TestBadInputCorpus runs `plan` on every file of testdata/bad. Each must
// fail with a non-zero status and an error naming the file, the line
// marked by its `want` comment, and the expected words.
func TestBadInputCorpus(t *testing.T) {
	files, err := filepath.Glob("../testdata/bad/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("corpus has %d files, want at least 30", len(files))
	}
	t.Cleanup(func() {
		// Every script ran in a child process with its memory bounded:
		// the largest of them stayed under the bound (the evaluator's own
		// code included).
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err == nil && ru.Maxrss*1024 > dsl.MemoryLimit+64<<20 {
			t.Errorf("an evaluating process grew to %d MiB, the bound is %d MiB", ru.Maxrss>>10, dsl.MemoryLimit>>20)
		}
	})
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			line, want := expectation(t, file)
			var stdout, stderr bytes.Buffer
			start := time.Now()
			code := Run(context.Background(), []string{"docker-rke", "plan", file}, Options{Stdout: &stdout, Stderr: &stderr, Getenv: noEnv})
			if took := time.Since(start); took > 15*time.Second {
				t.Errorf("took %s: bad input must fail within seconds", took.Round(time.Second))
			}
			if code != 1 {
				t.Fatalf("exit status %d, want 1; stdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
			}
			for _, crash := range []string{"panic:", "fatal error:", "goroutine "} {
				if strings.Contains(stderr.String(), crash) {
					t.Errorf("the error shows a crash (%q):\n%s", crash, stderr.String())
				}
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout should be empty on error, got:\n%s", stdout.String())
			}
			msg := stderr.String()
			at := file + ":" + strconv.Itoa(line) + ":"
			if !strings.Contains(msg, at) {
				t.Errorf("error does not name %s:\n%s", at, msg)
			}
			if !strings.Contains(msg, want) {
				t.Errorf("error does not say %q:\n%s", want, msg)
			}
		})
	}
}

func expectation(t *testing.T, file string) (int, string) {
	t.Helper()
	if e, ok := noComment[filepath.Base(file)]; ok {
		return e.line, e.want
	}
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(src), "\n") {
		if m := wantRE.FindStringSubmatch(l); m != nil {
			return i + 1, m[1]
		}
	}
	t.Fatalf("%s has no want comment and no entry in noComment", file)
	return 0, ""
}

func noEnv(string) string { return "" }
