package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/docker-rke/docker-rke/dind"
)

// TestUpgradeKeepsData: docker rke before named volumes gave each node an
// anonymous /var, which goes with its container. A node made that way
// (here: the cluster's only etcd node, its /var moved into an anonymous
// volume without what this release adds to it, its container made again
// as the previous release made it) is replaced by the next up with its
// data moved into its named volume first: the objects of the cluster
// survive the upgrade of docker rke.
func TestUpgradeKeepsData(t *testing.T) {
	const cluster = "upgrade"
	requireAbsent(t, cluster)
	rmAtEnd(t, cluster)
	dir := t.TempDir()
	script := writeScriptIn(t, dir, "upgrade.go", `	c := rke.NewCluster("upgrade")
	c.Node("upgrade-1", rke.All()...)
`)
	if r := docker(t, "rke", "up", "--kubeconfig-dir", dir, script); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	kubeconfig := filepath.Join(dir, "kube_config_upgrade.yml")
	cs, _ := kubeClient(t, kubeconfig)
	ctx := ctxT(t)
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "from-before"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	const node = "rke-dind-upgrade-1"
	api := engine(t)
	before := inspect(t, node)
	timeout := 60
	if err := api.ContainerStop(ctx, node, container.StopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	if err := api.ContainerRemove(ctx, node, container.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	// The previous release's node: the same container, its /var an
	// anonymous volume.
	host := before.HostConfig
	host.Mounts = []mount.Mount{{Type: mount.TypeVolume, Target: "/var", VolumeOptions: &mount.VolumeOptions{NoCopy: true}}}
	cfg := before.Config
	cfg.Labels[dind.LabelSpec] = "made-by-the-previous-release"
	if _, err := api.ContainerCreate(ctx, cfg, host, nil, nil, node); err != nil {
		t.Fatal(err)
	}
	anonymous := ""
	for _, m := range inspect(t, node).Mounts {
		if m.Destination == "/var" {
			anonymous = m.Name
		}
	}
	// Its data, without what this release adds to /var.
	copier := "rke-e2e-old-var"
	if _, err := api.ContainerCreate(ctx, &container.Config{Image: cfg.Image, Entrypoint: []string{"sh", "-c", "cp -a /from/. /to/ && rm -rf /to/lib/docker-rke"}},
		&container.HostConfig{NetworkMode: "none", Mounts: []mount.Mount{
			{Type: mount.TypeVolume, Source: dind.VarVolume(node), Target: "/from"},
			{Type: mount.TypeVolume, Source: anonymous, Target: "/to"},
		}}, nil, nil, copier); err != nil {
		t.Fatal(err)
	}
	// With the anonymous /var the node image declares.
	defer api.ContainerRemove(ctx, copier, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if r := run(t, "docker", "start", "-a", copier); r.code != 0 {
		t.Fatalf("copying the node's /var: %s", r.stderr)
	}
	if err := api.ContainerRemove(ctx, copier, container.RemoveOptions{RemoveVolumes: true}); err != nil {
		t.Fatal(err)
	}
	if err := api.VolumeRemove(ctx, dind.VarVolume(node), false); err != nil {
		t.Fatal(err)
	}
	if err := api.ContainerStart(ctx, node, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}

	up := docker(t, "rke", "up", "--kubeconfig-dir", dir, script)
	if up.code != 0 {
		t.Fatalf("up after the upgrade: exit %d\n%s", up.code, up.stderr)
	}
	for _, want := range []string{
		"/var moves from the container's own volume into " + dind.VarVolume(node),
		"node upgrade-1: moving its /var from volume " + anonymous[:12] + " into " + dind.VarVolume(node),
	} {
		if !strings.Contains(up.stderr, want) {
			t.Errorf("up does not say %q:\n%s", want, up.stderr)
		}
	}
	after := inspect(t, node)
	if after.ID == before.ID || !strings.Contains(strings.Join(mountNames(after), " "), dind.VarVolume(node)) {
		t.Errorf("the node was not replaced with its named volume: %+v", after.Mounts)
	}
	if _, err := api.VolumeInspect(ctx, anonymous); err == nil {
		t.Errorf("the old anonymous volume %s is left", anonymous)
	}
	if cm, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "from-before", metav1.GetOptions{}); err != nil || cm.Data["k"] != "v" {
		t.Errorf("the ConfigMap made before the upgrade: %v %+v", err, cm)
	}
	checkNodesReady(t, cs, clusterPlan(t, script, cluster))
}

func mountNames(c container.InspectResponse) []string {
	var out []string
	for _, m := range c.Mounts {
		out = append(out, m.Name)
	}
	return out
}
