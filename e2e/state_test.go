package e2e

import (
	"bytes"
	"errors"
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
