package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-rke/docker-rke/images"
)

// TestImagesTravel: a release's node image saved to an archive, removed
// from the engine and loaded back from the archive alone (what another
// machine without Go, root or debootstrap does); then pushed to a lab
// registry (Debian's docker-registry on loopback), removed again, and
// pulled by up from the registry the cluster names, by digest, to run a
// cluster without any build. An archive is never overwritten; one of
// foreign images is refused; a registry without the image, or with
// another image under its name, makes up fail before it creates anything.
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
	// Whatever fails below, the release's node image is back at the end
	// (the later tests would otherwise build it again).
	t.Cleanup(func() {
		if _, err := engine(t).ImageInspect(context.Background(), ref); err != nil {
			if r := docker(t, "rke", "images", "load", "-i", archive); r.code != 0 {
				t.Errorf("putting %s back: %s", ref, r.stderr)
			}
		}
	})
	rmi(t, ref)
	if r := docker(t, "rke", "images", "load", "-i", archive); r.code != 0 || !strings.Contains(r.stdout, ref+" loaded") {
		t.Fatalf("images load: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := inspectImage(t, ref); got != id {
		t.Errorf("loaded %s as %s, saved %s", ref, got, id)
	}

	registry := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startRegistry(t, t.TempDir(), registry)
	push := docker(t, "rke", "images", "push", "--kubernetes-version", rel.Kubernetes, registry)
	if push.code != 0 {
		t.Fatalf("images push: exit %d\n%s%s", push.code, push.stdout, push.stderr)
	}
	d := rel.Defaults()
	for _, pushed := range []string{ref, d.Kubernetes, d.Etcd, d.CoreDNS, d.Pause, d.CNI} {
		name, _, _ := strings.Cut(pushed, ":") // docker-rke/...: no registry, so the first colon starts the tag
		if !strings.Contains(push.stdout, registry+"/"+name+"@sha256:") {
			t.Errorf("images push does not print %s pinned to its digest:\n%s", pushed, push.stdout)
		}
	}
	if r := docker(t, "rke", "images", "push", "lab"); r.code != 2 || !strings.Contains(r.stderr, "Docker Hub user") {
		t.Errorf("images push to a Docker Hub user: exit %d %s", r.code, r.stderr)
	}
	// Under the node image's name in another path of the registry: pause.
	pushImage(t, images.Repository+"/pause:"+rel.Pause, registry+"/forged/"+ref)

	const cluster = "travel"
	requireAbsent(t, cluster)
	rmAtEnd(t, cluster)
	dir := t.TempDir()
	scriptFrom := func(reg string) string {
		return writeScriptIn(t, dir, "travel.go", `	rke.NewCluster("travel").KubernetesVersion("`+rel.Kubernetes+`").ImageRegistry("`+reg+`").Node("travel-1", rke.All()...)
`)
	}
	rmi(t, ref)
	for reg, want := range map[string]string{
		registry + "/empty":  "has no node image " + ref,
		registry + "/forged": "is not the node image of this docker rke's recipes",
	} {
		up := docker(t, "rke", "up", "--kubeconfig-dir", dir, scriptFrom(reg))
		if up.code == 0 || !strings.Contains(up.stderr, want) {
			t.Errorf("up from %s: exit %d, want %q:\n%s", reg, up.code, want, up.stderr)
		}
		if ls := docker(t, "rke", "ls", "-q"); strings.Contains(ls.stdout, cluster) {
			t.Errorf("up from %s left cluster %s behind", reg, cluster)
		}
		if _, err := engine(t).ImageInspect(ctxT(t), ref); err == nil {
			t.Errorf("up from %s left %s on the engine", reg, ref)
		}
	}

	script := scriptFrom(registry)
	up := docker(t, "rke", "up", "--kubeconfig-dir", dir, script)
	if up.code != 0 {
		t.Fatalf("up pulling from %s: exit %d\n%s", registry, up.code, up.stderr)
	}
	if !strings.Contains(up.stderr, "pulled as "+registry+"/"+images.Repository+"/node@sha256:") || strings.Contains(up.stderr, "is not built yet") {
		t.Errorf("up did not pull the node image by digest, or built it:\n%s", up.stderr)
	}
	if got := inspectImage(t, ref); got != id {
		t.Errorf("pulled %s as %s, pushed %s", ref, got, id)
	}
	// Neither the push's tag nor the pull's digest reference stays.
	img, err := engine(t).ImageInspect(ctxT(t), ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range append(img.RepoTags, img.RepoDigests...) {
		if strings.HasPrefix(name, registry) {
			t.Errorf("%s is still on the engine as %s", ref, name)
		}
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

// rmi removes an image from the engine by reference.
func rmi(t *testing.T, ref string) {
	t.Helper()
	if r := run(t, "docker", "rmi", ref); r.code != 0 {
		t.Fatalf("docker rmi %s: %s", ref, r.stderr)
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
