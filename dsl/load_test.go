package dsl

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A definition that is not a regular file is refused before a byte is
// read: a named pipe would block the open until someone writes to it, and
// /dev/zero would never end. A file past the size limit is refused on its
// size, whatever it holds.
func TestLoadFileRefusesWhatIsNotADefinition(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.yml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero.go")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "folder.yml")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: the size says it all, nothing is written.
	if err := f.Truncate(MaxDefinitionSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()

	for file, want := range map[string]string{
		fifo: "not a regular file (a named pipe)",
		zero: "not a regular file (a character device)",
		sub:  "not a regular file (a directory)",
		big:  "the limit for a cluster definition is 1048576",
	} {
		// The test's own deadline catches a read that blocks.
		_, _, err := LoadFile(context.Background(), file, Options{})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), file+":") {
			t.Errorf("%s: got %v, want an error naming the file that says %q", filepath.Base(file), err, want)
		}
	}
}

// A symlink to a real definition is read like the file itself.
func TestLoadFileFollowsSymlinks(t *testing.T) {
	dir := t.TempDir()
	target, err := filepath.Abs(filepath.Join("..", "samples", "cluster1.yml"))
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "cluster.yml")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	def, _, err := LoadFile(context.Background(), link, Options{})
	if err != nil || len(def.Clusters) != 1 || len(def.Clusters[0].Nodes) != 3 {
		t.Fatalf("got %v, %v; want the sample's cluster of three nodes", def, err)
	}
}
