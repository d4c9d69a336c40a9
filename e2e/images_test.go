package e2e

import (
	"strings"
	"sync"
	"testing"

	"github.com/docker/docker/api/types/image"

	"github.com/docker-rke/docker-rke/images"
	"github.com/docker-rke/docker-rke/images/builder"
)

func release(t *testing.T) images.Release {
	t.Helper()
	rel, err := images.Lookup(images.DefaultKubernetesVersion())
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

// TestImagesStartAndReportVersions runs every image built by TestMain and
// checks the version it reports.
func TestImagesStartAndReportVersions(t *testing.T) {
	rel := release(t)
	for _, c := range images.Components(rel) {
		t.Run(c.Name, func(t *testing.T) {
			args := append([]string{"run", "--rm", "--network", "none", "--entrypoint", c.Check[0], c.Ref}, c.Check[1:]...)
			r := run(t, "docker", args...)
			if !strings.Contains(r.stdout+r.stderr, c.Want) {
				t.Errorf("%s %v printed %q, want %q", c.Ref, c.Check, r.stdout+r.stderr, c.Want)
			}
		})
	}
	// Each Kubernetes component, through the multi-call binary's names.
	for _, comp := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"} {
		r := run(t, "docker", "run", "--rm", "--network", "none", "--entrypoint", comp, rel.Defaults().Kubernetes, "--version")
		if !strings.Contains(r.stdout, "Kubernetes "+rel.Kubernetes) {
			t.Errorf("%s --version: %q %q", comp, r.stdout, r.stderr)
		}
	}
	for _, check := range [][]string{{"etcdctl", "version"}, {"conntrack", "--version"}, {"mount", "--version"}} {
		img := rel.Defaults().Kubernetes
		if check[0] == "etcdctl" {
			img = rel.Defaults().Etcd
		}
		if r := run(t, "docker", "run", "--rm", "--network", "none", "--entrypoint", check[0], img, check[1]); r.code != 0 {
			t.Errorf("%s in %s: exit %d %s", check[0], img, r.code, r.stderr)
		}
	}
}

func TestImagesListAndCachedBuild(t *testing.T) {
	rel := release(t)
	ls := docker(t, "rke", "images", "ls")
	for _, c := range images.Components(rel) {
		if !strings.Contains(ls.stdout, c.Ref) {
			t.Errorf("images ls lacks %s:\n%s", c.Ref, ls.stdout)
		}
	}
	if !strings.Contains(ls.stdout, images.NodeImage(rel)) {
		t.Errorf("images ls lacks the node image %s", images.NodeImage(rel))
	}
	before := imageIDs(t, rel)
	// Two builds at once: the lock serialises them, both succeed, and with
	// nothing changed neither builds anything.
	var wg sync.WaitGroup
	results := make([]result, 2)
	for i := range results {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = docker(t, "rke", "images", "build") }()
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 || !strings.Contains(r.stdout, "0 built") {
			t.Errorf("concurrent build #%d: exit %d\n%s%s", i+1, r.code, r.stdout, r.stderr)
		}
	}
	after := imageIDs(t, rel)
	for ref, id := range before {
		if after[ref] != id {
			t.Errorf("%s changed from %s to %s although nothing changed", ref, id, after[ref])
		}
	}
}

func imageIDs(t *testing.T, rel images.Release) map[string]string {
	t.Helper()
	out := map[string]string{}
	refs := []string{images.NodeImage(rel)}
	for _, c := range images.Components(rel) {
		refs = append(refs, c.Ref)
	}
	for _, ref := range refs {
		img, err := engine(t).ImageInspect(ctxT(t), ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		out[ref] = img.ID
	}
	return out
}

func TestImagesUnknownVersion(t *testing.T) {
	r := docker(t, "rke", "images", "build", "--kubernetes-version", "v1.12.4")
	if r.code == 0 || !strings.Contains(r.stderr, "v1.12.4") || !strings.Contains(r.stderr, "v1.37.2") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
}

// TestFailedBuildLeavesNoImage builds a component whose go build fails:
// no image may appear under its name. A good build afterwards succeeds.
func TestFailedBuildLeavesNoImage(t *testing.T) {
	rel := release(t)
	var pause images.Component
	for _, c := range images.Components(rel) {
		if c.Name == images.Pause {
			pause = c
		}
	}
	broken := pause
	broken.Ref = "docker-rke-e2e/broken-pause:1"
	broken.Binaries = []images.Binary{{Package: "./does-not-exist", Path: "/pause"}}
	b := builder.New(engine(t), testLog{t}, builder.Options{CacheDir: t.TempDir()})
	if _, err := b.Build(ctxT(t), []images.Component{broken}); err == nil || !strings.Contains(err.Error(), "does-not-exist") {
		t.Fatalf("broken build: err = %v", err)
	}
	if _, err := engine(t).ImageInspect(ctxT(t), broken.Ref); err == nil {
		t.Fatalf("a failed build left %s", broken.Ref)
	}
	good := pause
	good.Ref = "docker-rke-e2e/pause:1"
	t.Cleanup(func() { _, _ = engine(t).ImageRemove(ctxT(t), good.Ref, image.RemoveOptions{Force: true}) })
	res, err := b.Build(ctxT(t), []images.Component{good})
	if err != nil || len(res) != 1 || !res[0].Built {
		t.Fatalf("build after a failure: %v %+v", err, res)
	}
}

type testLog struct{ t *testing.T }

func (l testLog) Printf(format string, args ...any) { l.t.Logf(format, args...) }
