package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-rke/docker-rke/images"
)

// TestImagesTravel: a release's node image saved to an archive, removed
// from the engine and loaded back from the archive alone (what another
// machine without Go, root or debootstrap does), runs a cluster without
// any build. An archive is never overwritten; one of foreign images is
// refused.
func TestImagesTravel(t *testing.T) {
	rel := images.Releases()[len(images.Releases())-1] // the oldest: the other tests use it least
	ref := images.NodeImage(rel)
	archive := filepath.Join(t.TempDir(), "release.tar")
	if r := docker(t, "rke", "images", "save", "-o", archive, "--kubernetes-version", rel.Kubernetes); r.code != 0 || !strings.Contains(r.stdout, ref) {
		t.Fatalf("images save: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := docker(t, "rke", "images", "save", "-o", archive, "--kubernetes-version", rel.Kubernetes); r.code != 2 || !strings.Contains(r.stderr, "never overwrites") {
		t.Errorf("images save over an archive: exit %d %s", r.code, r.stderr)
	}
	id := inspectImage(t, ref)
	if r := run(t, "docker", "rmi", ref); r.code != 0 {
		t.Fatalf("docker rmi %s: %s", ref, r.stderr)
	}
	if r := docker(t, "rke", "images", "load", "-i", archive); r.code != 0 || !strings.Contains(r.stdout, ref+" loaded") {
		t.Fatalf("images load: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := inspectImage(t, ref); got != id {
		t.Errorf("loaded %s as %s, saved %s", ref, got, id)
	}

	const cluster = "travel"
	requireAbsent(t, cluster)
	rmAtEnd(t, cluster)
	dir := t.TempDir()
	script := writeScriptIn(t, dir, "travel.go", `	rke.NewCluster("travel").KubernetesVersion("`+rel.Kubernetes+`").Node("travel-1", rke.All()...)
`)
	up := docker(t, "rke", "up", "--kubeconfig-dir", dir, script)
	if up.code != 0 {
		t.Fatalf("up from the loaded image: exit %d\n%s", up.code, up.stderr)
	}
	if strings.Contains(up.stderr, "is not built yet") {
		t.Errorf("up built images although the loaded one was there:\n%s", up.stderr)
	}
	cs, _ := kubeClient(t, filepath.Join(dir, "kube_config_travel.yml"))
	checkNodesReady(t, cs, clusterPlan(t, script, cluster))

	foreign := filepath.Join(t.TempDir(), "foreign.tar")
	if r := run(t, "docker", "save", "-o", foreign, images.Repository+"/pause:"+rel.Pause); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := docker(t, "rke", "images", "load", "-i", foreign); r.code != 1 || !strings.Contains(r.stderr, "is not a node image this docker rke runs") {
		t.Errorf("images load of a foreign archive: exit %d %s", r.code, r.stderr)
	}
}

func inspectImage(t *testing.T, ref string) string {
	t.Helper()
	img, err := engine(t).ImageInspect(ctxT(t), ref)
	if err != nil {
		t.Fatal(err)
	}
	return img.ID
}
