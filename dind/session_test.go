package dind

import (
	"bytes"
	"strings"
	"testing"

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
