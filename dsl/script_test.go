package dsl

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docker-rke/docker-rke/dsl/stdsyms"
	"github.com/docker-rke/docker-rke/model"
)

func eval(t *testing.T, src string) (*model.Definition, model.Problems, error) {
	t.Helper()
	return EvalScript(context.Background(), "test.go", []byte(src), Options{Timeout: 2 * time.Second})
}

func TestSamples(t *testing.T) {
	type node struct {
		name  string
		roles []model.Role
	}
	all := []model.Role{model.RoleControlPlane, model.RoleEtcd, model.RoleWorker}
	worker := []model.Role{model.RoleWorker}
	tests := []struct {
		file     string
		clusters map[string][]node
	}{
		{"cluster1.go", map[string][]node{"cluster1": {{"cluster1-node1", all}, {"cluster1-node2", worker}, {"cluster1-node3", worker}}}},
		{"cluster2.go", map[string][]node{"cluster2": {{"cluster2-node1", all}, {"cluster2-node2", all}, {"cluster2-node3", all}}}},
		{"multi.go", map[string][]node{
			"dev":     {{"dev-cp", []model.Role{model.RoleControlPlane, model.RoleEtcd}}, {"dev-worker1", worker}},
			"staging": {{"staging-cp", []model.Role{model.RoleControlPlane, model.RoleEtcd}}, {"staging-worker1", worker}, {"staging-worker2", worker}},
		}},
		{"cluster1.yml", map[string][]node{"cluster1": {{"cluster1-node1", []model.Role{model.RoleControlPlane, model.RoleWorker, model.RoleEtcd}}, {"cluster1-node2", worker}, {"cluster1-node3", worker}}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			def, _, err := LoadFile(context.Background(), filepath.Join("..", "samples", tt.file), Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]node{}
			for _, c := range def.Clusters {
				for _, n := range c.Nodes {
					got[c.Name] = append(got[c.Name], node{n.Name, n.Roles})
				}
			}
			if !reflect.DeepEqual(got, tt.clusters) {
				t.Errorf("got %v\nwant %v", got, tt.clusters)
			}
		})
	}
}

func TestScriptSettings(t *testing.T) {
	def, _, err := eval(t, `package main

import "rke"

func main() {
	c := rke.NewCluster("lab").
		KubernetesVersion("1.37.2").
		NodeImage("my/node:1").
		PodCIDR("10.60.0.0/16").
		ServiceCIDR("10.61.0.0/16").
		ClusterDomain("lab.local").
		ClusterDNS("10.61.0.53").
		PodSecurity(rke.Restricted).
		RegistryMirror("https://hub.lab").
		RegistryMirror("http://10.0.0.9:5000", "registry.k8s.io", "quay.io").
		ImageRegistry("registry.lab:5000/team").
		Images(rke.Images{Etcd: "my/etcd:3"}).
		ExtraArgs(rke.KubeAPIServer, map[string]string{"v": "2"})
	c.Node("cp", rke.ControlPlane, rke.Etcd).Roles(rke.Worker).
		Label("disk", "ssd").
		Taint("dedicated=db:NoSchedule")
}
`)
	if err != nil {
		t.Fatal(err)
	}
	c := def.Clusters[0]
	want := model.Cluster{
		Name: "lab", KubernetesVersion: "1.37.2", NodeImage: "my/node:1",
		PodCIDR: "10.60.0.0/16", ServiceCIDR: "10.61.0.0/16", ClusterDomain: "lab.local", ClusterDNS: "10.61.0.53",
		PodSecurity: model.PodSecurityRestricted,
		RegistryMirrors: []model.RegistryMirror{
			{URL: "https://hub.lab"},
			{URL: "http://10.0.0.9:5000", Registries: []string{"registry.k8s.io", "quay.io"}},
		},
		ImageRegistry: "registry.lab:5000/team",
		Images:        model.Images{Etcd: "my/etcd:3"},
		Services:      map[string]model.Service{model.ComponentAPIServer: {ExtraArgs: map[string]string{"v": "2"}}},
		Nodes: []model.Node{{
			Name:   "cp",
			Roles:  []model.Role{model.RoleControlPlane, model.RoleEtcd, model.RoleWorker},
			Labels: map[string]string{"disk": "ssd"},
			Taints: []model.Taint{{Key: "dedicated", Value: "db", Effect: "NoSchedule"}},
		}},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestDefaultsApplied(t *testing.T) {
	def, _, err := eval(t, `package main

import "rke"

func main() { rke.NewCluster("c").Node("n", rke.All()...) }
`)
	if err != nil {
		t.Fatal(err)
	}
	c := def.Clusters[0]
	if c.PodCIDR != model.DefaultPodCIDR || c.ServiceCIDR != model.DefaultServiceCIDR || c.KubernetesVersion == "" || c.ClusterDomain != "cluster.local" {
		t.Errorf("defaults not applied: %+v", c)
	}
}

func TestLoopsAndManyClusters(t *testing.T) {
	def, _, err := eval(t, `package main

import (
	"fmt"
	"rke"
)

func main() {
	for i := 0; i < 20; i++ {
		name := fmt.Sprintf("c%02d", i)
		c := rke.NewCluster(name)
		c.Node(name+"-cp", rke.All()...)
		for j := 1; j <= i%4; j++ {
			c.Node(fmt.Sprintf("%s-node%d", name, j), rke.Worker)
		}
	}
}
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(def.Clusters) != 20 {
		t.Fatalf("%d clusters, want 20", len(def.Clusters))
	}
	if got := len(def.Clusters[7].Nodes); got != 4 {
		t.Errorf("c07 has %d nodes, want 4", got)
	}
	if got := def.Clusters[7].Nodes[3].Name; got != "c07-node3" {
		t.Errorf("node name %q, want c07-node3", got)
	}
}

func TestScriptOutputGoesToOptionsOutput(t *testing.T) {
	var out bytes.Buffer
	_, _, err := EvalScript(context.Background(), "p.go", []byte(`package main

import (
	"fmt"
	"rke"
)

func main() {
	fmt.Println("defining clusters")
	println("builtin")
	rke.NewCluster("c").Node("n", rke.All()...)
}
`), Options{Output: &out})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "defining clusters") {
		t.Errorf("script output %q does not contain its Println", out.String())
	}
}

func TestWarningsHavePositions(t *testing.T) {
	_, warnings, err := eval(t, `package main

import "rke"

func main() {
	c := rke.NewCluster("c")
	c.Node("n1", rke.All()...)
	c.Node("n2", rke.All()...)
}
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0].Error(), "test.go:6:2") || !strings.Contains(warnings[0].Error(), "even") {
		t.Errorf("want one even-etcd warning at test.go:6:2, got %v", warnings)
	}
}

func TestSandbox(t *testing.T) {
	// Every package outside the allowlist is refused at its import, before
	// anything runs.
	for _, pkg := range []string{"os", "os/exec", "net", "net/http", "unsafe", "syscall", "io/ioutil", "reflect", "runtime", "plugin", "io", "bufio", "path/filepath", "math/rand", "sync", "debug/elf", "slices"} {
		t.Run(pkg, func(t *testing.T) {
			_, _, err := eval(t, "package main\n\nimport _ \""+pkg+"\"\n\nfunc main() {}\n")
			var se *Error
			if !errors.As(err, &se) || !strings.Contains(se.Msg, "not allowed") || se.Pos.Line != 3 {
				t.Fatalf("import %s: err = %v, want 'not allowed' at line 3", pkg, err)
			}
		})
	}
}

// Each allowed package works in a script: its symbol table is generated
// (package stdsyms), and the binary holds no other.
func TestAllowedPackagesHaveTheirSymbols(t *testing.T) {
	for pkg := range allowedStdlib {
		if len(stdsyms.Symbols[pkg+"/"+pkg]) == 0 {
			t.Errorf("package %s is allowed but has no symbol table: go generate ./dsl/stdsyms after adding it to the go:generate line", pkg)
		}
	}
	if len(stdsyms.Symbols) != len(allowedStdlib) {
		t.Errorf("stdsyms has %d tables for %d allowed packages", len(stdsyms.Symbols), len(allowedStdlib))
	}
	_, _, err := eval(t, `package main

import (
	"fmt"
	"math"
	"rke"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	names := []string{"b", "a"}
	sort.Strings(names)
	d, _ := time.ParseDuration("90s")
	name := strings.Join(names, "") + strconv.Itoa(int(math.Sqrt(16))) + fmt.Sprint(int(d.Minutes()))
	rke.NewCluster(name).Node("n", rke.All()...)
}
`)
	if err != nil {
		t.Fatal(err)
	}
}

func TestSandboxHasNoPackageVariables(t *testing.T) {
	// Assigning to time.UTC would change the host process itself.
	_, _, err := eval(t, `package main

import (
	"rke"
	"time"
)

func main() {
	time.UTC = nil
	rke.NewCluster("c").Node("n", rke.All()...)
}
`)
	if err == nil || !strings.Contains(err.Error(), "UTC") {
		t.Fatalf("err = %v, want an error about time.UTC", err)
	}
	if time.UTC == nil {
		t.Fatal("script changed the host's time.UTC")
	}
}

// What a script does not import does not exist for it: yaegi would
// otherwise compile its generic slices, maps, cmp, sync and atomic into
// every interpreter, visible without an import.
func TestSandboxHidesWhatIsNotImported(t *testing.T) {
	for pkg, use := range map[string]string{
		"slices": "slices.Sort([]int{2, 1})", "maps": "_ = maps.Clone(map[string]int{})",
		"cmp": "_ = cmp.Compare(1, 2)", "sync": "_ = sync.OnceFunc(func() {})",
		"atomic": "_ = atomic.AddInt64(nil, 1)", "os": "_ = os.Args",
		"iter": "_ = iter.Seq[int](nil)", "strings": `_ = strings.ToUpper("x")`,
	} {
		t.Run(pkg, func(t *testing.T) {
			_, _, err := eval(t, "package main\n\nimport \"rke\"\n\nfunc main() {\n\t"+use+"\n\trke.NewCluster(\"c\").Node(\"n\", rke.All()...)\n}\n")
			var se *Error
			if !errors.As(err, &se) || se.Pos.Line != 6 || !strings.Contains(se.Msg, "undefined: "+pkg) {
				t.Fatalf("%s without an import: err = %v, want 'undefined: %s' at line 6", use, err, pkg)
			}
		})
	}
}

// A script runs in a process of its own: a *time.Location it reaches
// (time.Local, through any Time's Location) can be overwritten there, but
// never in the tool, and never in the next evaluation.
func TestScriptCannotChangeTheTool(t *testing.T) {
	before := time.Unix(0, 0).String()
	src := `package main

import (
	"fmt"
	"rke"
	"time"
)

func main() {
	fmt.Println(time.Unix(0, 0).String())
	t, _ := time.Parse(time.RFC3339, "2020-01-01T00:00:00+05:00")
	*time.Unix(0, 0).Location() = *t.Location()
	fmt.Println(time.Unix(0, 0).String())
	rke.NewCluster("c").Node("n", rke.All()...)
}
`
	var outs []string
	for i := 0; i < 2; i++ {
		var out bytes.Buffer
		if _, _, err := EvalScript(context.Background(), "tz.go", []byte(src), Options{Output: &out}); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, out.String())
	}
	lines := strings.Split(strings.TrimSpace(outs[0]), "\n")
	if len(lines) != 2 || lines[0] == lines[1] {
		t.Fatalf("the script's own overwrite did not show in its own process (%q): the test proves nothing", outs[0])
	}
	if outs[1] != outs[0] {
		t.Errorf("the second evaluation saw the first one's change: %q, then %q", outs[0], outs[1])
	}
	if after := time.Unix(0, 0).String(); after != before {
		t.Errorf("the tool's local time zone changed: %s, now %s", before, after)
	}
}

func TestScriptCannotWriteFiles(t *testing.T) {
	target := filepath.Join(t.TempDir(), "pwned")
	for _, src := range []string{
		"package main\n\nimport \"os\"\n\nfunc main() { os.WriteFile(\"" + target + "\", nil, 0o644) }\n",
		"package main\n\nimport \"io/ioutil\"\n\nfunc main() { ioutil.WriteFile(\"" + target + "\", nil, 0o644) }\n",
	} {
		if _, _, err := eval(t, src); err == nil {
			t.Fatal("script with a file write evaluated without error")
		}
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatalf("the script wrote %s", target)
	}
}

func TestTimeout(t *testing.T) {
	start := time.Now()
	_, _, err := EvalScript(context.Background(), "loop.go", []byte("package main\n\nfunc main() {\n\tx := 0\n\tfor {\n\t\tx++\n\t}\n}\n"), Options{Timeout: 300 * time.Millisecond})
	var se *Error
	if !errors.As(err, &se) || !strings.Contains(se.Msg, "did not finish") {
		t.Fatalf("err = %v, want a timeout error", err)
	}
	if se.Pos.Line != 6 {
		t.Errorf("timeout reported at line %d, want 6 (the statement in the loop)", se.Pos.Line)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("timeout took %s", d)
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := EvalScript(ctx, "c.go", []byte("package main\n\nfunc main() {\n\tfor {\n\t}\n}\n"), Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestCompileErrorPosition(t *testing.T) {
	_, _, err := eval(t, "package main\n\nimport \"rke\"\n\nfunc main() {\n\tc := rke.NewCluster(\"c\")\n\tc.Nodes(\"n\")\n}\n")
	var se *Error
	if !errors.As(err, &se) || se.Pos.Line != 7 || se.Pos.Col == 0 {
		t.Fatalf("err = %v, want an error at line 7 with a column", err)
	}
}

func TestEvaluationsAreIndependent(t *testing.T) {
	src := []byte("package main\n\nimport \"rke\"\n\nfunc main() { rke.NewCluster(\"c\").Node(\"n\", rke.All()...) }\n")
	for i := 0; i < 3; i++ {
		def, _, err := EvalScript(context.Background(), "same.go", src, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(def.Clusters) != 1 || len(def.Clusters[0].Nodes) != 1 {
			t.Fatalf("evaluation %d saw state of an earlier one: %+v", i, def)
		}
	}
}

func TestUnknownExtension(t *testing.T) {
	_, _, err := Load(context.Background(), "cluster.txt", []byte("nodes: []"), Options{})
	if err == nil || !strings.Contains(err.Error(), "cluster.txt") || !strings.Contains(err.Error(), ".go") {
		t.Fatalf("err = %v", err)
	}
}

// TestReadmeExample keeps the README's example script true.
func TestReadmeExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "```go\n")
	if !ok {
		t.Fatal("README has no Go example")
	}
	src, _, _ := strings.Cut(rest, "```")
	def, _, err := EvalScript(context.Background(), "README.md", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(def.Clusters) != 2 || len(def.Clusters[1].Nodes) != 3 || def.Clusters[1].Nodes[2].Taints[0].Value != "staging" {
		t.Errorf("README example defined %+v", def.Clusters)
	}
}

func TestPortsAndMounts(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := `package main

import "rke"

func main() {
	c := rke.NewCluster("dev")
	c.Node("dev-1", rke.All()...).
		Port(8080, 30080).
		Port(5353, 30053, rke.UDP, rke.AllAddresses).
		Port(8443, 30443, rke.HostIP("127.0.0.2"), rke.TCP).
		Mount("./data", "/data", true).
		Mount("` + dir + `", "/srv/all", false)
}
`
	file := filepath.Join(dir, "cluster.go")
	def, _, err := EvalScript(context.Background(), file, []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := def.Clusters[0].Nodes[0]
	wantPorts := []model.Port{
		{HostPort: 8080, NodePort: 30080, Protocol: "tcp", HostIP: "127.0.0.1"},
		{HostPort: 5353, NodePort: 30053, Protocol: "udp", HostIP: "0.0.0.0"},
		{HostPort: 8443, NodePort: 30443, Protocol: "tcp", HostIP: "127.0.0.2"},
	}
	wantMounts := []model.Mount{
		{HostPath: filepath.Join(dir, "data"), NodePath: "/data", ReadOnly: true},
		{HostPath: dir, NodePath: "/srv/all"},
	}
	if !reflect.DeepEqual(n.Ports, wantPorts) || !reflect.DeepEqual(n.Mounts, wantMounts) {
		t.Errorf("ports %+v\nmounts %+v", n.Ports, n.Mounts)
	}
}

// What a script prints is capped, and its control characters (terminal
// escape sequences) are shown escaped.
func TestOutputCappedAndEscaped(t *testing.T) {
	var out bytes.Buffer
	_, _, err := EvalScript(context.Background(), "loud.go", []byte(`package main

import (
	"fmt"
	"strings"

	"rke"
)

func main() {
	fmt.Print("\x1b[31mred\x1b[0m\n")
	line := strings.Repeat("x", 1023) + "\n"
	for i := 0; i < 4096; i++ {
		fmt.Print(line)
	}
	rke.NewCluster("c").Node("n", rke.All()...)
}
`), Options{Output: &out})
	if err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.HasPrefix(s, `\x1b[31mred\x1b[0m`+"\n") || strings.Contains(s, "\x1b") {
		t.Errorf("escape sequences not escaped: %q", s[:40])
	}
	if len(s) > OutputLimit+1024 || !strings.Contains(s, "the script printed more than 1024 KiB; the rest is cut") {
		t.Errorf("output of %d bytes, want it cut at %d with a note", len(s), OutputLimit)
	}
}

// Cancelling (Ctrl-C) stops a running script at once.
func TestCancelStopsAtOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	_, _, err := EvalScript(ctx, "spin.go", []byte("package main\n\nfunc main() {\n\tfor {\n\t}\n}\n"), Options{Timeout: time.Minute})
	if !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second {
		t.Errorf("err %v after %s", err, time.Since(start))
	}
}

// The deadline covers compiling too: a script that is not even compiled
// in time is stopped, and says so.
func TestDeadlineCoversCompiling(t *testing.T) {
	_, _, err := EvalScript(context.Background(), "slow.go", []byte("package main\n\nimport \"rke\"\n\nfunc main() { rke.NewCluster(\"c\").Node(\"n\", rke.All()...) }\n"), Options{Timeout: time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "still being compiled") {
		t.Errorf("err = %v", err)
	}
}

// A panic value is rendered without calling the script's own methods.
func TestPlainValue(t *testing.T) {
	for v, want := range map[any]string{
		"gave up":                    "gave up",
		42:                           "42",
		errors.New("stdlib's error"): "stdlib's error",
		struct{ x int }{1}:           "a value of type struct { x int }",
	} {
		if got := plainValue(v); got != want {
			t.Errorf("plainValue(%#v) = %q, want %q", v, got, want)
		}
	}
}
