package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-rke/docker-rke/images"
)

// TestKubernetesVersions runs a cluster of every release but the default
// (which every other test runs), both from one script, brought up at
// once: nodes Ready with the release's kubelet, the API server reporting
// it, DNS answering (up waits for it). version lists every release, and
// plan refuses a version that cannot be built, naming those that can.
func TestKubernetesVersions(t *testing.T) {
	v := docker(t, "rke", "version")
	if v.code != 0 {
		t.Fatalf("version: exit %d %s", v.code, v.stderr)
	}
	var body strings.Builder
	var clusters []string
	for _, rel := range images.Releases() {
		if !strings.Contains(v.stdout, rel.Kubernetes+" ") || !strings.Contains(v.stdout, rel.Etcd) {
			t.Errorf("version does not list %s with etcd %s:\n%s", rel.Kubernetes, rel.Etcd, v.stdout)
		}
		if rel.Kubernetes == images.DefaultKubernetesVersion() {
			continue
		}
		name := "ver-" + strings.NewReplacer("v", "", ".", "-").Replace(rel.Kubernetes)
		clusters = append(clusters, name)
		fmt.Fprintf(&body, "\tc%d := rke.NewCluster(%q).KubernetesVersion(%q)\n", len(clusters), name, rel.Kubernetes)
		fmt.Fprintf(&body, "\tc%d.Node(%q, rke.All()...)\n\tc%d.Node(%q, rke.Worker)\n", len(clusters), name+"-1", len(clusters), name+"-2")
	}
	var want []string
	for _, rel := range images.Releases() {
		want = append(want, rel.Kubernetes)
	}
	if r := docker(t, "rke", "version", "--format", "{{range .Releases}}{{.Kubernetes}} {{end}}"); r.code != 0 || strings.TrimSpace(r.stdout) != strings.Join(want, " ") {
		t.Errorf("version --format: exit %d %q, want %q", r.code, r.stdout, strings.Join(want, " "))
	}
	if r := docker(t, "rke", "version", "--format", "json"); r.code != 0 || !strings.Contains(r.stdout, `"Kubernetes":"`+want[0]+`"`) {
		t.Errorf("version --format json: exit %d %q", r.code, r.stdout)
	}
	if len(clusters) < 2 {
		t.Fatalf("docker rke builds %d releases besides the default; the issue asks for the three newest minors", len(clusters))
	}
	requireAbsent(t, clusters...)
	rmAtEnd(t, clusters...)
	dir := t.TempDir()
	script := writeScriptIn(t, dir, "versions.go", body.String())
	if r := docker(t, "rke", "up", "--kubeconfig-dir", dir, script); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	// The docker CLI's completion asks the plugin, which asks the engine.
	if r := docker(t, "__complete", "rke", "rm", "ver-"); r.code != 0 || !strings.Contains(r.stdout, clusters[0]+"\n") || !strings.Contains(r.stdout, clusters[1]+"\n") || !strings.HasSuffix(r.stdout, ":4\n") {
		t.Errorf("docker __complete rke rm ver-: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	checkKubectlPlugin(t, clusters)
	for _, name := range clusters {
		plan := clusterPlan(t, script, name)
		cs, _ := kubeClient(t, filepath.Join(dir, "kube_config_"+name+".yml"))
		checkNodesReady(t, cs, plan)
		sv, err := cs.Discovery().ServerVersion()
		if err != nil || sv.GitVersion != plan.KubernetesVersion {
			t.Errorf("%s: the API server reports %v (%v), want %s", name, sv, err, plan.KubernetesVersion)
		}
	}

	bad := writeScriptIn(t, dir, "old.go", "\trke.NewCluster(\"old\").KubernetesVersion(\"v1.34.4\").Node(\"old-1\", rke.All()...)\n")
	r := docker(t, "rke", "plan", bad)
	if r.code != 1 || !strings.Contains(r.stderr, "old.go:") || !strings.Contains(r.stderr, strings.Join(images.KubernetesVersions(), ", ")) {
		t.Errorf("plan of v1.34.4: exit %d, want 1 and the buildable versions named:\n%s", r.code, r.stderr)
	}
}

// checkKubectlPlugin runs the binary as kubectl's plugin, kubectl-rke (what
// kubectl runs for `kubectl rke`), with a kubeconfig whose current context
// is the first cluster's: ls lists both clusters, and etcd snapshot ls
// needs no --cluster although the engine has two (kubectl's convention:
// the current context). Through kubectl itself too, when it is installed.
func checkKubectlPlugin(t *testing.T, clusters []string) {
	t.Helper()
	bin := t.TempDir()
	plugin := filepath.Join(bin, "kubectl-rke")
	if err := os.Symlink(shared.binary, plugin); err != nil {
		t.Fatal(err)
	}
	env := []string{"KUBECONFIG=" + filepath.Join(t.TempDir(), "config"), "PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")}
	if r := runEnv(t, env, shared.binary, "kubeconfig", "--merge", clusters[0]); r.code != 0 {
		t.Fatalf("kubeconfig --merge: %s", r.stderr)
	}
	ls := runEnv(t, env, plugin, "ls")
	if ls.code != 0 || !strings.Contains(ls.stdout, clusters[0]) || !strings.Contains(ls.stdout, clusters[1]) {
		t.Errorf("kubectl-rke ls: exit %d\n%s%s", ls.code, ls.stdout, ls.stderr)
	}
	if r := runEnv(t, env, plugin, "etcd", "snapshot", "ls"); r.code != 0 {
		t.Errorf("kubectl-rke etcd snapshot ls, current context rke-%s: exit %d\n%s%s", clusters[0], r.code, r.stdout, r.stderr)
	}
	if r := runEnv(t, env, plugin, "bogus"); r.code != 2 || !strings.Contains(r.stderr, "See 'kubectl rke --help'") {
		t.Errorf("kubectl-rke bogus: exit %d %s", r.code, r.stderr)
	}
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Log("no kubectl on this machine: kubectl-rke checked on its own")
		return
	}
	if r := runEnv(t, env, kubectl, "rke", "ls"); r.code != 0 || !strings.Contains(r.stdout, clusters[0]) {
		t.Errorf("kubectl rke ls: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
