package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/images"
)

// TestStateVolume saves a cluster's state, reads it back and checks that
// rm removes it with the cluster.
func TestStateVolume(t *testing.T) {
	requireAbsent(t, "statetest")
	rmAtEnd(t, "statetest")
	e := dind.NewEngine(engine(t), testLog{t})
	img := images.NodeImage(release(t))
	if _, err := e.LoadState(ctxT(t), "statetest", img); !errors.Is(err, dind.ErrNoState) {
		t.Fatalf("state of a new cluster: %v", err)
	}
	want := []byte(`{"certificates":{"kube-ca":{}}}`)
	if err := e.SaveState(ctxT(t), "statetest", img, want); err != nil {
		t.Fatal(err)
	}
	got, err := e.LoadState(ctxT(t), "statetest", img)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back %q, %v", got, err)
	}
	mode := run(t, "docker", "run", "--rm", "--network", "none", "-v", dind.StateVolume("statetest")+":/state", "--entrypoint", "stat", img, "-c", "%a", "/state/state.json")
	if mode.stdout != "600\n" {
		t.Errorf("state file mode %q, want 600", mode.stdout)
	}
	if c, _, v := labelled(t, "statetest"); len(c) != 0 || len(v) != 1 {
		t.Errorf("state left containers %v, volumes %v", c, v)
	}
	if r := docker(t, "rke", "rm", "statetest"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	assertGone(t, "statetest")
}

// TestRmTrustsNoPathFromTheState: a cluster's state, which anyone who can
// write the engine's volumes can change, names a file of someone else as
// the cluster's kubeconfig and as a kubeconfig it merged into: rm removes
// the cluster and leaves both files as they were.
func TestRmTrustsNoPathFromTheState(t *testing.T) {
	requireAbsent(t, "tamper")
	rmAtEnd(t, "tamper")
	dir := t.TempDir()
	victim := filepath.Join(dir, "kube_config_tamper.yml")
	precious := filepath.Join(dir, "precious.txt")
	for _, f := range []string{victim, precious} {
		if err := os.WriteFile(f, []byte("someone else's\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	st, err := json.Marshal(map[string]any{"kubeconfig": victim, "merged": []string{precious, victim}})
	if err != nil {
		t.Fatal(err)
	}
	e := dind.NewEngine(engine(t), testLog{t})
	if err := e.SaveState(ctxT(t), "tamper", images.NodeImage(release(t)), st); err != nil {
		t.Fatal(err)
	}
	if r := docker(t, "rke", "rm", "tamper"); r.code != 0 {
		t.Fatalf("rm: %s", r.stderr)
	}
	assertGone(t, "tamper")
	for _, f := range []string{victim, precious} {
		if data, err := os.ReadFile(f); err != nil || string(data) != "someone else's\n" {
			t.Errorf("rm touched %s: %q %v", f, data, err)
		}
	}
}
