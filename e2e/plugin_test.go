package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDockerFindsThePlugin(t *testing.T) {
	help := docker(t, "rke", "--help")
	if help.code != 0 || !strings.Contains(help.stdout, "plan") {
		t.Fatalf("docker rke --help: exit %d\n%s%s", help.code, help.stdout, help.stderr)
	}
	helpRke := docker(t, "help", "rke")
	if helpRke.code != 0 || !strings.Contains(helpRke.stdout, "plan") {
		t.Fatalf("docker help rke: exit %d\n%s%s", helpRke.code, helpRke.stdout, helpRke.stderr)
	}
	// docker help lists the plugin with its short description.
	top := docker(t, "help")
	if !strings.Contains(top.stdout, "rke*") && !strings.Contains(top.stdout, "rke ") {
		t.Errorf("docker help does not list rke:\n%s", top.stdout)
	}
	info := docker(t, "info", "--format", "{{json .ClientInfo.Plugins}}")
	if !strings.Contains(info.stdout, `"Name":"rke"`) || !strings.Contains(info.stdout, "Kubernetes") {
		t.Errorf("docker info does not list the plugin (exit %d):\n%s%s", info.code, info.stdout, info.stderr)
	}
}

func TestPlanThroughDocker(t *testing.T) {
	for _, file := range []string{"samples/cluster1.go", "samples/cluster1.yml"} {
		r := docker(t, "rke", "plan", file, "--format", "json")
		if r.code != 0 {
			t.Fatalf("docker rke plan %s: exit %d\n%s", file, r.code, r.stderr)
		}
		var plan struct {
			Clusters []struct {
				Name  string
				Nodes []struct{ ContainerName string }
			}
		}
		if err := json.Unmarshal([]byte(r.stdout), &plan); err != nil {
			t.Fatalf("plan --format json is not JSON: %v\n%s", err, r.stdout)
		}
		if len(plan.Clusters) != 1 || plan.Clusters[0].Name != "cluster1" || len(plan.Clusters[0].Nodes) != 3 {
			t.Errorf("%s: unexpected plan %+v", file, plan)
		}
	}
}

func TestGlobalFlagsThroughDocker(t *testing.T) {
	// The docker CLI resolves the context before it runs the plugin, so the
	// context must exist; plan itself never contacts it.
	r := docker(t, "-H", "unix:///nonexistent.sock", "rke", "plan", "samples/cluster2.go")
	if r.code != 0 || !strings.Contains(r.stdout, "cluster2-node3") {
		t.Fatalf("docker -H ... rke plan: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestStandalone(t *testing.T) {
	r := run(t, shared.binary, "plan", "samples/cluster1.go")
	if r.code != 0 || !strings.Contains(r.stdout, "rke-dind-cluster1-node1") {
		t.Fatalf("docker-rke plan: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if v := run(t, shared.binary, "--version"); v.code != 0 || !strings.HasPrefix(v.stdout, "docker-rke version ") {
		t.Errorf("docker-rke --version: exit %d %q %q", v.code, v.stdout, v.stderr)
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if r := run(t, shared.binary, "completion", shell); r.code != 0 || !strings.Contains(r.stdout, "__complete") {
			t.Errorf("docker-rke completion %s: exit %d %.200q %s", shell, r.code, r.stdout, r.stderr)
		}
	}
	if r := run(t, shared.binary, "__complete", "up", "--node-im"); r.stdout != "--node-image\trun every node from this image instead of the one the definition names\n:4\n" {
		t.Errorf("docker-rke __complete up --node-im: %q %s", r.stdout, r.stderr)
	}
	meta := run(t, shared.binary, "docker-cli-plugin-metadata")
	var m map[string]any
	if err := json.Unmarshal([]byte(meta.stdout), &m); err != nil || m["SchemaVersion"] != "0.1.0" {
		t.Fatalf("metadata: %v %q", err, meta.stdout)
	}
}

// kind's and k3d's verbs work as aliases; rm removes every cluster only
// when asked with --all, and never names and --all at once.
func TestAliasesAndRmAll(t *testing.T) {
	for alias, of := range map[string]string{"create": "Create or converge the clusters", "delete": "Remove clusters"} {
		if r := docker(t, "rke", alias, "--help"); r.code != 0 || !strings.Contains(r.stdout, of) {
			t.Errorf("%s --help: exit %d\n%s%s", alias, r.code, r.stdout, r.stderr)
		}
	}
	if r := docker(t, "rke", "rm", "--all", "x"); r.code != 2 || !strings.Contains(r.stderr, "not both") {
		t.Errorf("rm --all x: exit %d %s", r.code, r.stderr)
	}
	if r := docker(t, "rke", "delete"); r.code != 2 || !strings.Contains(r.stderr, "or --all") {
		t.Errorf("delete: exit %d %s", r.code, r.stderr)
	}
	// Usage errors as docker's own: one line on stderr saying where help
	// is, exit 2, stdout empty.
	for args, want := range map[string]string{
		"up --bogus samples/cluster1.go": "unknown flag: --bogus\nSee 'docker rke up --help'.",
		"bogus":                          `unknown command "bogus" for "docker rke"`,
		"etcd snapshot bogus":            `unknown command "bogus" for "docker rke etcd snapshot"`,
		"stpo cluster1":                  `unknown command "stpo" for "docker rke"; did you mean stop?`,
		"up --kubeconfg-dir x":           "unknown flag: --kubeconfg-dir; did you mean --kubeconfig-dir?",
	} {
		r := docker(t, append([]string{"rke"}, strings.Fields(args)...)...)
		if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, want) {
			t.Errorf("docker rke %s: exit %d, stdout %q, stderr %q; want 2, nothing, %q", args, r.code, r.stdout, r.stderr, want)
		}
	}
}

func TestBadInputExitsNonZero(t *testing.T) {
	r := docker(t, "rke", "plan", "testdata/bad/unknown-role.go")
	if r.code == 0 || !strings.Contains(r.stderr, "testdata/bad/unknown-role.go:14:") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
}

// TestInterruptCancels sends SIGINT while a runaway script is evaluated:
// the command stops well before the script's own 5 s deadline, says it was
// cancelled and exits non-zero, and its evaluator is gone. The script runs
// in the small evaluator the binary carries, not in the tool's own
// binary: from the user's cache folder, or from memory where that folder
// cannot be written.
func TestInterruptCancels(t *testing.T) {
	script := writeScript(t, "spin.go", `	fmt.Println("spinning")
	for {
	}
`)
	cache := t.TempDir()
	for _, tt := range []struct {
		name, cacheHome string
		runsFrom        func(exe string) bool
	}{
		{"cached", cache, func(exe string) bool {
			return filepath.Dir(exe) == filepath.Join(cache, "docker-rke") && strings.HasPrefix(filepath.Base(exe), "evaluator-")
		}},
		{"in memory", "/proc/docker-rke-cannot-write-here", func(exe string) bool {
			return strings.HasPrefix(exe, "/memfd:docker-rke-evaluator")
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(shared.binary, "plan", script)
			cmd.Dir = shared.repo
			cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+tt.cacheHome)
			var stderr syncBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// The script prints once it runs, and by then the command
			// handles signals: wait for that instead of guessing a delay.
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(stderr.String(), "spinning") {
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					t.Fatalf("the script never ran: %s", stderr.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			evaluator := childProcess(t, cmd.Process.Pid)
			if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", evaluator)); !tt.runsFrom(exe) {
				t.Errorf("the script runs in %q", exe)
			}
			start := time.Now()
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("took %s to stop after SIGINT", took)
			}
			if err == nil || !strings.Contains(stderr.String(), "cancelled") {
				t.Errorf("err = %v, stderr:\n%s", err, stderr.String())
			}
			if _, gone := os.Stat(fmt.Sprintf("/proc/%d", evaluator)); gone == nil {
				t.Errorf("the evaluator (pid %d) outlived the command", evaluator)
			}
		})
	}
}

// childProcess is the pid of a child of process pid.
func childProcess(t *testing.T, pid int) int {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so after the last ')'.
		fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			child, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			return child
		}
	}
	t.Fatalf("process %d has no child", pid)
	return 0
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
