package conformance

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker-rke/docker-rke/images"
)

func TestArgs(t *testing.T) {
	rel, _ := images.Lookup("v1.37.2")
	smoke := images.SmokeSpecs()
	args := Args(Options{Release: rel, ClusterDomain: "cluster.test", LabelFilter: Parallel, Focus: smoke,
		Procs: 3, Timeout: 90 * time.Minute, NonBlockingTaints: []string{"a/etcd", "b/controlplane"}})
	sep := slices.Index(args, "--")
	if args[0] != "ginkgo" || sep < 0 || args[sep-1] != "/usr/local/bin/e2e.test" {
		t.Fatalf("not ginkgo [flags] e2e.test -- [flags]: %q", args)
	}
	for _, want := range []string{"--procs=3", "--timeout=1h30m0s", "--label-filter=" + Parallel} {
		if !slices.Contains(args[:sep], want) {
			t.Errorf("ginkgo lacks %s: %q", want, args[:sep])
		}
	}
	for _, want := range []string{"--dns-domain=cluster.test", "--non-blocking-taints=a/etcd,b/controlplane", "--provider=skeleton", "--kubeconfig=" + kubeconfig} {
		if !slices.Contains(args[sep:], want) {
			t.Errorf("e2e.test lacks %s: %q", want, args[sep:])
		}
	}
	var focus string
	for _, a := range args[:sep] {
		if f, ok := strings.CutPrefix(a, "--focus="); ok {
			focus = f
		}
	}
	re, err := regexp.Compile(focus)
	if err != nil {
		t.Fatalf("focus is not a regular expression: %v", err)
	}
	for _, s := range smoke {
		if !re.MatchString(s) {
			t.Errorf("focus misses %q", s)
		}
	}
	// Names are matched as written (brackets are not character classes),
	// whatever the order of their tags (older releases put
	// [NodeConformance] first), and not as the start of a longer name.
	if !re.MatchString("[sig-node] Pods should get a host IP [NodeConformance] [Conformance]") {
		t.Error("focus misses a smoke spec whose tags come in v1.36's order")
	}
	if re.MatchString("[sig-node] Pods should be submitted and removed twice [Conformance] [NodeConformance]") ||
		re.MatchString("[sig-node]XPods should be submitted and removed [Conformance]") ||
		re.MatchString("[sig-apps] Deployment should run the lifecycle of a Deployment [Conformance]") {
		t.Error("focus matches specs that are not in the list")
	}
	if plain := Args(Options{Release: rel, LabelFilter: Serial, Procs: 0}); slices.ContainsFunc(plain, func(a string) bool { return strings.HasPrefix(a, "--focus") }) || !slices.Contains(plain, "--procs=1") || !slices.Contains(plain, "--timeout=24h0m0s") {
		t.Errorf("a run without focus: %q", plain)
	}
}

// report is the shape of ginkgo's JUnit report as e2e.test writes it:
// setup nodes, specs the filter left out, and specs that ran.
const report = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="6" disabled="3" errors="0" failures="1" time="37.0">
  <testsuite name="Kubernetes e2e suite" package="/usr/local/bin" tests="6" disabled="0" skipped="3" errors="0" failures="1" time="37.0">
    <testcase name="[SynchronizedBeforeSuite]" classname="Kubernetes e2e suite" status="passed" time="1.2"></testcase>
    <testcase name="[It] [sig-node] Pods should get a host IP [Conformance] [NodeConformance]" classname="Kubernetes e2e suite" status="passed" time="4.1"></testcase>
    <testcase name="[It] [sig-network] DNS should provide DNS for services [Conformance]" classname="Kubernetes e2e suite" status="failed" time="30.0"><failure type="failed">timed out</failure></testcase>
    <testcase name="[It] [sig-storage] CSI something [Feature:X]" classname="Kubernetes e2e suite" status="skipped" time="0"><skipped message="skipped"></skipped></testcase>
    <testcase name="[It] [sig-node] Pods should cap back-off [Conformance]" classname="Kubernetes e2e suite" status="skipped" time="0.3"><skipped message="skipped - Only supported for providers [gce]"></skipped></testcase>
    <testcase name="[SynchronizedAfterSuite]" classname="Kubernetes e2e suite" status="passed" time="0.1"></testcase>
  </testsuite>
</testsuites>`

func TestParseJUnit(t *testing.T) {
	s, err := ParseJUnit([]byte(report))
	if err != nil {
		t.Fatal(err)
	}
	if s.Passed != 1 || s.Failed != 1 || s.Skipped != 1 {
		t.Errorf("passed %d failed %d skipped %d, want 1 1 1", s.Passed, s.Failed, s.Skipped)
	}
	if !slices.Equal(s.FailedSpecs, []string{"[sig-network] DNS should provide DNS for services [Conformance]"}) {
		t.Errorf("failed specs %q", s.FailedSpecs)
	}
	if _, err := ParseJUnit([]byte("<testsuites><testsuite>")); err == nil {
		t.Error("a truncated report parsed")
	}
	failedSetup := strings.Replace(report, `name="[SynchronizedBeforeSuite]" classname="Kubernetes e2e suite" status="passed"`, `name="[SynchronizedBeforeSuite]" classname="Kubernetes e2e suite" status="failed"`, 1)
	if s, _ := ParseJUnit([]byte(failedSetup)); s.Failed != 2 || s.FailedSpecs[0] != "[SynchronizedBeforeSuite]" {
		t.Errorf("a failed setup node is not a failure: %+v", s)
	}
}

func TestProcesses(t *testing.T) {
	for n, want := range map[int]string{1: "1 process", 2: "2 processes", 8: "8 processes"} {
		if got := Processes(n); got != want {
			t.Errorf("Processes(%d) = %q, want %q", n, got, want)
		}
	}
}
