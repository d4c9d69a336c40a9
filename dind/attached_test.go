package dind

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/pkg/stdcopy"
)

// TestAttachedLines: the multiplexed output of an attached exec is read
// line by line, stdout and stderr alike, a listing line of an image with
// many labels (longer than bufio's default) included.
func TestAttachedLines(t *testing.T) {
	long := "docker.io/library/a:1 x sha256:1 2.1 MiB linux/amd64 " + strings.Repeat("k=v,", 100000) + LabelImageID + "=sha256:1"
	var muxed bytes.Buffer
	if _, err := stdcopy.NewStdWriter(&muxed, stdcopy.Stdout).Write([]byte("REF TYPE\n" + long + "\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := stdcopy.NewStdWriter(&muxed, stdcopy.Stderr).Write([]byte("a warning\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := stdcopy.NewStdWriter(&muxed, stdcopy.Stdout).Write([]byte(sessionMark + "listed 0\n")); err != nil {
		t.Fatal(err)
	}
	sc := attachedLines(&muxed)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading: %v", err)
	}
	if len(lines) != 4 || lines[1] != long || lines[2] != "a warning" || lines[3] != sessionMark+"listed 0" {
		t.Fatalf("got %d lines, want the 4 written", len(lines))
	}
	if have := parseImageList(strings.Join(lines[:3], "\n")); have["docker.io/library/a:1"] != "sha256:1" {
		t.Errorf("the long listing line says %v", have)
	}
}

// TestHear: an answer is the lines up to the one that ends it; output
// that ends first gives what was said, not whole; a context that ends
// stops the wait.
func TestHear(t *testing.T) {
	muxed := func(out string) attached {
		var b bytes.Buffer
		if _, err := stdcopy.NewStdWriter(&b, stdcopy.Stdout).Write([]byte(out)); err != nil {
			t.Fatal(err)
		}
		return attached{lines: attachedLines(&b)}
	}
	marked := func(line string, _ int) bool { return strings.HasPrefix(line, sessionMark) }
	a := muxed("one\ntwo\n" + sessionMark + "registered 0\nnext\n" + sessionMark + "listed 1\n")
	if lines, whole, err := a.hear(context.Background(), marked); err != nil || !whole || strings.Join(lines, "|") != "one|two|"+sessionMark+"registered 0" {
		t.Errorf("first answer: %q %v %v", lines, whole, err)
	}
	if lines, whole, err := a.hear(context.Background(), marked); err != nil || !whole || strings.Join(lines, "|") != "next|"+sessionMark+"listed 1" {
		t.Errorf("second answer: %q %v %v", lines, whole, err)
	}
	two := func(_ string, n int) bool { return n == 2 }
	if lines, whole, err := muxed("ok\n").hear(context.Background(), two); err != nil || whole || strings.Join(lines, "|") != "ok" {
		t.Errorf("output that ends early: %q %v %v", lines, whole, err)
	}
	// Nothing ever said: only the context ends the wait.
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := (attached{lines: attachedLines(pr)}).hear(ctx, two); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a silent process: %v", err)
	}
}
