package plugin

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
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
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			line, want := expectation(t, file)
			var stdout, stderr bytes.Buffer
			code := Run(context.Background(), []string{"docker-rke", "plan", file}, Options{Stdout: &stdout, Stderr: &stderr, Getenv: noEnv})
			if code == 0 {
				t.Fatalf("exit status 0, want non-zero; stdout:\n%s", stdout.String())
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
