package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/docker-rke/docker-rke/conformance"
	"github.com/docker-rke/docker-rke/images"
)

// TestConformanceSmoke runs the smoke subset of the upstream conformance
// suite (images/conformance-smoke.txt), built from the release's module
// with its images built here and loaded into the nodes, against a cluster
// shaped like cluster1 (one node with every role, two workers): every
// spec must pass, the report must say so, and the runner must be gone.
func TestConformanceSmoke(t *testing.T) {
	const cluster = "smoke"
	rel := release(t)
	for _, tool := range [][]string{{"e2e.test", "--version"}, {"kubectl", "version", "--client"}} {
		r := run(t, "docker", append([]string{"run", "--rm", "--network", "none", images.ConformanceComponent(rel).Ref}, tool...)...)
		if r.code != 0 || !strings.Contains(r.stdout, rel.Kubernetes) {
			t.Errorf("%s in the conformance image: exit %d, want it to report %s:\n%s%s", tool[0], r.code, rel.Kubernetes, r.stdout, r.stderr)
		}
	}
	// TestMain built the suite: a second build finds every image current.
	if r := docker(t, "rke", "images", "build", "--e2e"); r.code != 0 || !strings.Contains(r.stdout, "\n0 built, ") {
		t.Errorf("images build --e2e with nothing changed: exit %d, want nothing built:\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := docker(t, "rke", "conformance", "--smoke", "nosuch"); r.code != 1 || !strings.Contains(r.stderr, "nosuch") {
		t.Errorf("conformance of a cluster that does not exist: exit %d, want 1 and its name:\n%s", r.code, r.stderr)
	}

	requireAbsent(t, cluster)
	rmAtEnd(t, cluster)
	dir := t.TempDir()
	script := writeScriptIn(t, dir, "smoke.go", "\tc := rke.NewCluster(\"smoke\")\n\tc.Node(\"smoke-1\", rke.All()...)\n\tc.Node(\"smoke-2\", rke.Worker)\n\tc.Node(\"smoke-3\", rke.Worker)\n")
	if r := docker(t, "rke", "up", "--kubeconfig-dir", dir, script); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	report := filepath.Join(dir, "report")
	r := docker(t, "rke", "conformance", "--smoke", "--report-dir", report, cluster)
	smoke := images.SmokeSpecs()
	if r.code != 0 {
		t.Errorf("conformance --smoke: exit %d\n%s\n%s", r.code, tail(r.stdout, 60), r.stderr)
	}
	data, err := os.ReadFile(filepath.Join(report, "summary.json"))
	if err != nil {
		t.Fatalf("no summary: %v", err)
	}
	var sum conformance.Summary
	if err := json.Unmarshal(data, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Passed != len(smoke) || sum.Failed != 0 || sum.KubernetesVersion != rel.Kubernetes {
		t.Errorf("summary: %d passed, %d failed (%q) on %s; want all %d of the smoke subset passed on %s", sum.Passed, sum.Failed, sum.FailedSpecs, sum.KubernetesVersion, len(smoke), rel.Kubernetes)
	}
	if files, _ := filepath.Glob(filepath.Join(report, "junit_*.xml")); len(files) != 1 {
		t.Errorf("JUnit reports in %s: %q", report, files)
	}
	if log, err := os.ReadFile(filepath.Join(report, "e2e.log")); err != nil || !strings.Contains(string(log), "Ran "+strconv.Itoa(len(smoke))+" of ") {
		t.Errorf("the suite's log does not say it ran the %d specs: %v", len(smoke), err)
	}
	if ps := run(t, "docker", "ps", "-aq", "--filter", "name="+conformance.RunnerName(cluster)); strings.TrimSpace(ps.stdout) != "" {
		t.Errorf("the runner container is left behind: %s", ps.stdout)
	}
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
