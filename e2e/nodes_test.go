package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"

	"github.com/docker-rke/docker-rke/images"
)

// TestNodes creates cluster1's three nodes, runs a container inside every
// node through the tunnel, lists the cluster and removes it.
func TestNodes(t *testing.T) {
	requireAbsent(t, "cluster1")
	rmAtEnd(t, "cluster1")
	volumesBefore := volumeCount(t)

	up := docker(t, "rke", "up", "--nodes-only", "samples/cluster1.go")
	if up.code != 0 {
		t.Fatalf("up: exit %d\n%s", up.code, up.stderr)
	}
	for _, n := range []string{"cluster1-node1", "cluster1-node2", "cluster1-node3"} {
		if !strings.Contains(up.stdout, n) {
			t.Errorf("up does not print node %s:\n%s", n, up.stdout)
		}
		container := "rke-dind-" + n
		c := inspect(t, container)
		if !c.State.Running || c.Config.Hostname != n {
			t.Errorf("%s: running=%v hostname=%q", container, c.State.Running, c.Config.Hostname)
		}
		// The release is baked in, its images already in the node's stores
		// when its engine answers (the node image carries them loaded):
		// binaries, CNI plugins, the runtime image in the node's engine and
		// pause in containerd.
		checks := map[string][]string{
			"binaries": {"ls", "/opt/docker-rke/bin/kube-apiserver", "/opt/docker-rke/bin/kubelet", "/opt/docker-rke/bin/etcd", "/opt/docker-rke/bin/coredns", "/opt/cni/bin/ptp", "/opt/cni/bin/host-local"},
			"runtime":  {"docker", "image", "inspect", "docker-rke/runtime:v1.37.2"},
			"pause":    {"sh", "-c", "docker image inspect docker-rke/pause:3.10 >/dev/null && ctr -n k8s.io images ls -q | grep -q docker.io/docker-rke/pause:3.10"},
		}
		for what, cmd := range checks {
			if r := run(t, "docker", append([]string{"exec", container}, cmd...)...); r.code != 0 {
				t.Errorf("%s: %s missing: %s %s", container, what, r.stdout, r.stderr)
			}
		}
		if logs := run(t, "docker", "logs", container); !strings.Contains(logs.stdout+logs.stderr, "entrypoint: images seeded") {
			t.Errorf("%s: its images were not seeded:\n%s", container, logs.stdout+logs.stderr)
		}
		if out := runInNode(t, container); !strings.Contains(out, "hello from "+container) {
			t.Errorf("%s: container in the node printed %q", container, out)
		}
		// Components run as the plan says: from the runtime image with the
		// node's binaries bound in.
		for _, comp := range []string{"kube-apiserver", "kubelet", "etcd"} {
			r := run(t, "docker", "exec", container, "docker", "run", "--rm", "--pull", "never", "--network", "host",
				"-v", "/opt/docker-rke/bin:/opt/docker-rke/bin:ro", "docker-rke/runtime:v1.37.2", "/opt/docker-rke/bin/"+comp, "--version")
			if !strings.Contains(r.stdout, release(t).Kubernetes) && !strings.Contains(r.stdout, strings.TrimPrefix(release(t).Etcd, "v")) {
				t.Errorf("%s: %s --version in the node: %q %q", container, comp, r.stdout, r.stderr)
			}
		}
	}
	if !strings.Contains(up.stdout, "controlplane,etcd,worker") {
		t.Errorf("up does not print roles:\n%s", up.stdout)
	}

	// docker's formats: json is one object per line, keyed by the names
	// templates use. (Ready is "-": no control plane, no API to ask.)
	ls := docker(t, "rke", "ls", "--format", "json")
	found := false
	for _, line := range strings.Split(strings.TrimSpace(ls.stdout), "\n") {
		var c struct {
			Name, State, Roles, Ready, KubernetesVersion string
			Nodes                                        int
		}
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("ls --format json: %v\n%s", err, ls.stdout)
		}
		if c.Name == "cluster1" {
			found = true
			if c.Nodes != 3 || c.State != "running" || c.Roles != "controlplane:1,etcd:1,worker:3" || c.Ready != "-" || c.KubernetesVersion != images.DefaultKubernetesVersion() {
				t.Errorf("ls shows %+v", c)
			}
		}
	}
	if !found {
		t.Fatalf("ls does not show cluster1:\n%s", ls.stdout)
	}
	table := docker(t, "rke", "ls")
	if !strings.Contains(table.stdout, "cluster1") || !strings.HasPrefix(table.stdout, "NAME ") {
		t.Errorf("ls table:\n%s", table.stdout)
	}
	for format, want := range map[string]string{
		"{{.Name}}={{.Nodes}}":                    "cluster1=3\n",
		"table {{.Name}}\t{{.KubernetesVersion}}": "KUBERNETES",
		"{{json .Roles}}":                         `"controlplane:1,etcd:1,worker:3"`,
	} {
		if r := docker(t, "rke", "ls", "--format", format); r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("ls --format %q: exit %d %q, want %q", format, r.code, r.stdout, want)
		}
	}
	if r := docker(t, "rke", "ls", "--format", "{{.Nope}}"); r.code != 2 || !strings.Contains(r.stderr, "--format") {
		t.Errorf("ls --format with an unknown field: exit %d %s", r.code, r.stderr)
	}
	for format, want := range map[string]string{
		"json": `"Component":"etcd"`, "table {{.Image}}\t{{.Bytes}}": "BYTES", "{{.Image}} {{.Component}}": images.Repository + "/etcd:",
	} {
		if r := docker(t, "rke", "images", "ls", "--format", format); r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("images ls --format %q: exit %d %q, want %q", format, r.code, r.stdout, want)
		}
	}

	rm := docker(t, "rke", "rm", "cluster1")
	if rm.code != 0 {
		t.Fatalf("rm: exit %d\n%s", rm.code, rm.stderr)
	}
	assertGone(t, "cluster1")
	if after := volumeCount(t); after != volumesBefore {
		t.Errorf("%d volumes before up, %d after rm: node volumes leaked", volumesBefore, after)
	}
	if again := docker(t, "rke", "rm", "cluster1"); again.code == 0 || !strings.Contains(again.stderr, "no such cluster") {
		t.Errorf("rm of a missing cluster: exit %d %s", again.code, again.stderr)
	}
}

// TestTwoClustersAtOnce brings up two clusters concurrently and checks that
// they do not collide: separate networks and subnets, and neither node
// engine reachable without credentials.
func TestTwoClustersAtOnce(t *testing.T) {
	requireAbsent(t, "cluster1", "cluster2")
	rmAtEnd(t, "cluster1", "cluster2")
	var wg sync.WaitGroup
	results := make([]result, 2)
	for i, file := range []string{"samples/cluster1.go", "samples/cluster2.go"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = docker(t, "rke", "up", "--nodes-only", file)
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("up #%d: exit %d\n%s", i+1, r.code, r.stderr)
		}
	}
	n1, n2 := inspect(t, "rke-dind-cluster1-node1"), inspect(t, "rke-dind-cluster2-node1")
	net1, net2 := n1.NetworkSettings.Networks["rke-cluster1"], n2.NetworkSettings.Networks["rke-cluster2"]
	if net1 == nil || net2 == nil {
		t.Fatalf("nodes are not on their cluster networks: %v / %v", n1.NetworkSettings.Networks, n2.NetworkSettings.Networks)
	}
	if len(n1.NetworkSettings.Networks) != 1 || len(n2.NetworkSettings.Networks) != 1 {
		t.Errorf("a node is on more than its cluster's network")
	}
	_, sub1, _ := net.ParseCIDR(net1.IPAddress + "/16")
	if sub1.Contains(net.ParseIP(net2.IPAddress)) && net1.Gateway == net2.Gateway {
		t.Errorf("clusters share a subnet: %s and %s", net1.IPAddress, net2.IPAddress)
	}
	if c, _, _ := labelled(t, "cluster2"); len(c) != 3 {
		t.Errorf("cluster2 has %d containers, want 3", len(c))
	}

	// No node engine listens on TCP: not from the host, not from a node of
	// the other cluster.
	for _, node := range []struct{ name, ip string }{{"rke-dind-cluster1-node1", net1.IPAddress}, {"rke-dind-cluster2-node1", net2.IPAddress}} {
		for _, port := range []string{"2375", "2376"} {
			if conn, err := net.DialTimeout("tcp", net.JoinHostPort(node.ip, port), 2*time.Second); err == nil {
				conn.Close()
				t.Errorf("%s answers on %s:%s from the host", node.name, node.ip, port)
			}
		}
		listen := run(t, "docker", "exec", node.name, "ss", "-Hltn")
		for _, line := range strings.Split(strings.TrimSpace(listen.stdout), "\n") {
			fields := strings.Fields(line)
			if len(fields) >= 4 && !strings.HasPrefix(fields[3], "127.") {
				t.Errorf("%s listens on %s", node.name, fields[3])
			}
		}
	}
	probe := run(t, "docker", "exec", "rke-dind-cluster2-node1", "bash", "-c", "timeout 2 bash -c 'echo > /dev/tcp/"+net1.IPAddress+"/2375'")
	if probe.code == 0 {
		t.Errorf("a node of cluster2 reached cluster1's engine on TCP 2375")
	}
	// Nodes resolve their peers by name, through the node's DNS setup.
	if r := run(t, "docker", "exec", "rke-dind-cluster1-node1", "getent", "hosts", "cluster1-node3"); r.code != 0 {
		t.Errorf("cluster1-node1 cannot resolve cluster1-node3: %s", r.stderr)
	}
	for _, cl := range []string{"cluster1", "cluster2"} {
		if r := docker(t, "rke", "rm", cl); r.code != 0 {
			t.Errorf("rm %s: %s", cl, r.stderr)
		}
		assertGone(t, cl)
	}
}

// TestConvergeAfterKill kills one node; up brings it back and recreates
// nothing.
func TestConvergeAfterKill(t *testing.T) {
	requireAbsent(t, "cluster1")
	rmAtEnd(t, "cluster1")
	if r := docker(t, "rke", "up", "--nodes-only", "samples/cluster1.go"); r.code != 0 {
		t.Fatalf("up: %s", r.stderr)
	}
	before := containerIDs(t, "cluster1")
	if r := run(t, "docker", "kill", "rke-dind-cluster1-node2"); r.code != 0 {
		t.Fatalf("docker kill: %s", r.stderr)
	}
	if inspect(t, "rke-dind-cluster1-node2").State.Running {
		t.Fatal("killed node still running")
	}
	// The node table in docker's --format, as ls's.
	r := docker(t, "rke", "up", "--nodes-only", "--format", "{{.Node}} {{.Action}} {{.Roles}}", "samples/cluster1.go")
	if r.code != 0 {
		t.Fatalf("second up: %s", r.stderr)
	}
	after := containerIDs(t, "cluster1")
	if len(after) != 3 {
		t.Fatalf("after converge: %v", after)
	}
	for name, id := range before {
		if after[name] != id {
			t.Errorf("%s was recreated (%s -> %s)", name, id[:12], after[name][:12])
		}
	}
	if !inspect(t, "rke-dind-cluster1-node2").State.Running {
		t.Error("killed node did not come back")
	}
	for _, want := range []string{"^cluster1-node2 started worker$", "^cluster1-node1 kept controlplane,etcd,worker$"} {
		if !matches(r.stdout, want) {
			t.Errorf("up output lacks %q:\n%s", want, r.stdout)
		}
	}
	if out := runInNode(t, "rke-dind-cluster1-node2"); !strings.Contains(out, "hello from") {
		t.Errorf("restarted node's engine does not run containers: %q", out)
	}
}

// TestInvalidDefinitionsCreateNothing runs up on the whole bad-input
// corpus: every file fails and no container is created.
func TestInvalidDefinitionsCreateNothing(t *testing.T) {
	before, _, _ := labelled(t, "")
	files, err := filepath.Glob(filepath.Join(shared.repo, "testdata", "bad", "*"))
	if err != nil || len(files) < 30 {
		t.Fatalf("corpus: %v, %d files", err, len(files))
	}
	for _, f := range files {
		r := docker(t, "rke", "up", "--nodes-only", f)
		if r.code == 0 {
			t.Errorf("%s: up succeeded", filepath.Base(f))
		}
		if !strings.Contains(r.stderr, filepath.Base(f)) {
			t.Errorf("%s: error does not name the file:\n%s", filepath.Base(f), r.stderr)
		}
	}
	after, _, _ := labelled(t, "")
	if len(after) != len(before) {
		t.Errorf("invalid definitions created containers: before %v, after %v", before, after)
	}
}

// TestFailedUpLeavesNothing makes the third node fail: first with an image
// that is not on the engine (refused before anything is created), then with
// an image whose container cannot start (refused after the other two nodes
// were created, which are then removed).
func TestFailedUpLeavesNothing(t *testing.T) {
	requireAbsent(t, "faulty")
	rmAtEnd(t, "faulty")
	broken := brokenImage(t)
	for _, img := range []string{"docker-rke/does-not-exist:1", broken} {
		t.Run(img, func(t *testing.T) {
			script := writeScript(t, "faulty.go", `	c := rke.NewCluster("faulty")
	c.Node("faulty-node1", rke.All()...)
	c.Node("faulty-node2", rke.Worker)
	c.Node("faulty-node3", rke.Worker).NodeImage("`+img+`")
`)
			r := docker(t, "rke", "up", "--nodes-only", script)
			if r.code == 0 {
				t.Fatalf("up succeeded:\n%s", r.stdout)
			}
			if !strings.Contains(r.stderr, "faulty-node3") {
				t.Errorf("error does not name the failing node:\n%s", r.stderr)
			}
			if strings.Contains(r.stderr, "faulty-node1 (") || strings.Contains(r.stderr, "faulty-node2 (") {
				t.Errorf("error blames healthy nodes:\n%s", r.stderr)
			}
			assertGone(t, "faulty")
		})
	}
	// A node whose container starts but whose engine never answers: up
	// made the cluster's certificates and saved its state while the nodes
	// booted, and must take that away too.
	t.Run("engine never answers", func(t *testing.T) {
		script := writeScript(t, "faulty.go", `	c := rke.NewCluster("faulty")
	c.Node("faulty-node1", rke.All()...)
	c.Node("faulty-node2", rke.Worker)
	c.Node("faulty-node3", rke.Worker).NodeImage("`+dyingNodeImage(t)+`")
`)
		r := docker(t, "rke", "up", script)
		if r.code == 0 {
			t.Fatalf("up succeeded:\n%s", r.stdout)
		}
		if !strings.Contains(r.stderr, "faulty-node3") || !strings.Contains(r.stderr, "this node never boots") {
			t.Errorf("error does not name the failing node and show its log:\n%s", r.stderr)
		}
		if strings.Contains(r.stderr, "faulty-node1 (") || strings.Contains(r.stderr, "faulty-node2 (") {
			t.Errorf("error blames healthy nodes:\n%s", r.stderr)
		}
		assertGone(t, "faulty")
	})
}

// dyingNodeImage is the release's node image with an entrypoint that
// exits at once: its containers start, and their engines never answer.
func dyingNodeImage(t *testing.T) string {
	t.Helper()
	ref := "docker-rke-e2e/dying-node:1"
	dockerfile := "FROM " + images.NodeImage(release(t)) + "\nENTRYPOINT [\"/bin/sh\", \"-c\", \"echo this node never boots; exit 3\"]\n"
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(dockerfile))})
	_, _ = tw.Write([]byte(dockerfile))
	_ = tw.Close()
	resp, err := engine(t).ImageBuild(ctxT(t), &buf, build.ImageBuildOptions{Tags: []string{ref}, Remove: true, Version: build.BuilderV1})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if _, err := engine(t).ImageInspect(ctxT(t), ref); err != nil {
		t.Fatalf("building %s: %v", ref, err)
	}
	t.Cleanup(func() { _, _ = engine(t).ImageRemove(ctxT(t), ref, image.RemoveOptions{Force: true}) })
	return ref
}

// brokenImage is an image whose entrypoint does not exist, so its
// containers are created but fail to start.
func brokenImage(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "README", Mode: 0o644, Size: 5})
	_, _ = tw.Write([]byte("empty"))
	_ = tw.Close()
	ref := "docker-rke-e2e/broken:1"
	resp, err := engine(t).ImageImport(ctxT(t), image.ImportSource{Source: &buf, SourceName: "-"}, ref, image.ImportOptions{Changes: []string{`ENTRYPOINT ["/does-not-exist"]`}})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = bytes.NewBuffer(nil).ReadFrom(resp)
	resp.Close()
	t.Cleanup(func() { _, _ = engine(t).ImageRemove(ctxT(t), ref, image.RemoveOptions{Force: true}) })
	return ref
}

func matches(s, pattern string) bool {
	return regexp.MustCompile("(?m)" + pattern).MatchString(s)
}

// TestConvergeReplacesDriftAndRemovesExtraNodes: a node image change
// replaces every node; a node left out of the definition is removed and
// the rest are kept.
func TestConvergeReplacesDriftAndRemovesExtraNodes(t *testing.T) {
	requireAbsent(t, "drift")
	rmAtEnd(t, "drift")
	three := writeScript(t, "drift.go", `	c := rke.NewCluster("drift")
	c.Node("drift-node1", rke.All()...)
	c.Node("drift-node2", rke.Worker)
	c.Node("drift-node3", rke.Worker)
`)
	if r := docker(t, "rke", "up", "--nodes-only", three); r.code != 0 {
		t.Fatalf("up: %s", r.stderr)
	}
	first := containerIDs(t, "drift")

	// The same image under another name is a different plan: replaced.
	retag := "docker-rke-e2e/node:retagged"
	if r := run(t, "docker", "tag", inspect(t, "rke-dind-drift-node1").Config.Image, retag); r.code != 0 {
		t.Fatal(r.stderr)
	}
	t.Cleanup(func() { run(t, "docker", "rmi", retag) })
	r := docker(t, "rke", "up", "--nodes-only", "--node-image", retag, three)
	if r.code != 0 {
		t.Fatalf("up with another image: %s", r.stderr)
	}
	second := containerIDs(t, "drift")
	for name, id := range first {
		if second[name] == id {
			t.Errorf("%s kept although its image changed", name)
		}
	}
	if strings.Count(r.stdout, "replaced") != 3 {
		t.Errorf("want 3 replaced nodes:\n%s", r.stdout)
	}

	two := writeScript(t, "drift.go", `	c := rke.NewCluster("drift")
	c.Node("drift-node1", rke.All()...)
	c.Node("drift-node2", rke.Worker)
`)
	if r := docker(t, "rke", "up", "--nodes-only", "--node-image", retag, two); r.code != 0 {
		t.Fatalf("up with two nodes: %s", r.stderr)
	}
	third := containerIDs(t, "drift")
	if len(third) != 2 || third["rke-dind-drift-node3"] != "" {
		t.Errorf("after dropping node3: %v", third)
	}
	for _, n := range []string{"rke-dind-drift-node1", "rke-dind-drift-node2"} {
		if third[n] != second[n] {
			t.Errorf("%s was recreated", n)
		}
	}
}

// TestRetainKeepsWhatFailed: with --retain a failed up leaves its nodes
// for debugging; rm removes them.
func TestRetainKeepsWhatFailed(t *testing.T) {
	requireAbsent(t, "kept")
	rmAtEnd(t, "kept")
	script := writeScript(t, "kept.go", `	c := rke.NewCluster("kept")
	c.Node("kept-node1", rke.All()...)
	c.Node("kept-node2", rke.Worker).NodeImage("`+brokenImage(t)+`")
`)
	if r := docker(t, "rke", "up", "--nodes-only", "--retain", script); r.code == 0 {
		t.Fatal("up succeeded")
	}
	if c, _, _ := labelled(t, "kept"); len(c) != 2 {
		t.Errorf("--retain kept %v, want both containers", c)
	}
	if r := docker(t, "rke", "rm", "kept"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	assertGone(t, "kept")
}
