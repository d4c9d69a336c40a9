package dind

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCourierScript: the courier copies a stage into every other node's
// volume, says per node whether it did, and leaves no part of a copy
// that failed.
func TestCourierScript(t *testing.T) {
	requireTools(t, "sh", "cp", "mktemp")
	dir := t.TempDir()
	from, good, bad := filepath.Join(dir, "var"), filepath.Join(dir, "n1"), filepath.Join(dir, "n2")
	stage := "docker-rke/load/abc"
	files := map[string]string{"0": "a layer", "blobs": "0 sha256:x 7\n"}
	if err := os.MkdirAll(filepath.Join(from, "lib", stage), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(from, "lib", stage, name), []byte(data), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	// The good volume has a docker-rke folder of its own already; the
	// bad one has a file where the folders should go.
	if err := os.MkdirAll(filepath.Join(good, "lib", "docker-rke", "state"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "lib"), []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := courierCommand(copyCommand(from, stage, []string{good, bad}))
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != 2 || lines[0] != "ok" || lines[1] == "ok" || !strings.Contains(lines[1], "lib") {
		t.Fatalf("the courier said %q, want ok then why the second copy failed", out)
	}
	for name, data := range files {
		p := filepath.Join(good, "lib", stage, name)
		got, err := os.ReadFile(p)
		if err != nil || string(got) != data {
			t.Errorf("%s: %q %v", name, got, err)
		}
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o444 {
			t.Errorf("%s: mode not kept: %v %v", name, fi.Mode(), err)
		}
	}
	if fi, err := os.Stat(filepath.Join(good, "lib", "docker-rke", "state")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the node's own folder was touched: %v %v", fi.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(from, "lib", stage, "0")); err != nil {
		t.Errorf("the source stage went: %v", err)
	}
}

// TestCourierServe: the courier's main process does the copy commands on
// its input, answering each, and ends when its input ends.
func TestCourierServe(t *testing.T) {
	requireTools(t, "sh", "cp", "mktemp")
	dir := t.TempDir()
	from, to1, to2 := filepath.Join(dir, "var"), filepath.Join(dir, "n1"), filepath.Join(dir, "n2")
	stage := "docker-rke/load/abc"
	if err := os.MkdirAll(filepath.Join(from, "lib", stage), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(from, "lib", stage, "0"), []byte("a layer"), 0o444); err != nil {
		t.Fatal(err)
	}
	args := courierEntrypoint()
	cmd := exec.Command(args[0], args[1:]...)
	copyLine := strings.Join(copyCommand(from, stage, []string{to1, to2}), " ")
	cmd.Stdin = strings.NewReader(copyLine + "\nunknown thing\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the courier did not end well when its input ended: %v: %s", err, out)
	}
	if got := string(out); got != "ok\nok\ncourier: unknown command unknown\n" {
		t.Errorf("the courier said %q", got)
	}
	for _, to := range []string{to1, to2} {
		if got, err := os.ReadFile(filepath.Join(to, "lib", stage, "0")); err != nil || string(got) != "a layer" {
			t.Errorf("%s: %q %v", to, got, err)
		}
	}
}

// requireTools skips a test of a script where a tool it runs is missing.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip("no " + tool)
		}
	}
}
