package plugin

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/fatih/color"

	"github.com/docker-rke/docker-rke/model"
	"github.com/docker-rke/docker-rke/runtime"
)

func logsPlan(t *testing.T) runtime.Cluster {
	t.Helper()
	def := &model.Definition{File: "t.go", Clusters: []model.Cluster{{Name: "c", Nodes: []model.Node{
		{Name: "cp", Roles: []model.Role{model.RoleControlPlane, model.RoleEtcd}},
		{Name: "w1", Roles: []model.Role{model.RoleWorker}},
		{Name: "w2", Roles: []model.Role{model.RoleWorker}},
	}}}}
	def.ApplyDefaults()
	if err := def.Validate().Err(); err != nil {
		t.Fatal(err)
	}
	p, err := runtime.Build(def)
	if err != nil {
		t.Fatal(err)
	}
	return p.Clusters[0]
}

// The plan says which nodes run a component: the audit log is on the
// nodes that run the API server, api-proxy on the others.
func TestNodesRunning(t *testing.T) {
	plan := logsPlan(t)
	names := func(component string, only ...string) string {
		nodes, err := nodesRunning(plan, component, only)
		if err != nil {
			return "error: " + err.Error()
		}
		var out []string
		for _, n := range nodes {
			out = append(out, n.Name)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct{ component, only, want string }{
		{"audit", "", "cp"},
		{"kube-apiserver", "", "cp"},
		{"etcd", "", "cp"},
		{"kubelet", "", "cp,w1,w2"},
		{"api-proxy", "", "w1,w2"},
		{"kubelet", "w2", "w2"},
		{"etcd", "w1", `error: cluster c: node "w1" does not run etcd; the nodes that do: cp`},
		{"coredns", "", "error: no component \"coredns\": want one of etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, api-proxy, audit"},
	} {
		var only []string
		if tc.only != "" {
			only = []string{tc.only}
		}
		if got := names(tc.component, only...); got != tc.want {
			t.Errorf("%s %v: got %q, want %q", tc.component, only, got, tc.want)
		}
	}
}

// Lines of several nodes come out whole, each with its node's name; one
// node's lines come out as they are.
func TestPrefixer(t *testing.T) {
	var out bytes.Buffer
	p := newPrefixer(&out, []string{"cp", "worker1"})
	a, b := p.For("cp"), p.For("worker1")
	a.Write([]byte("one "))
	b.Write([]byte("x\ny"))
	a.Write([]byte("line\ntwo\n"))
	b.Flush()
	a.Flush()
	want := "worker1 | x\ncp      | one line\ncp      | two\nworker1 | y\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}

	out.Reset()
	one := newPrefixer(&out, []string{"cp"}).For("cp")
	one.Write([]byte("a\nb"))
	one.Flush()
	if out.String() != "a\nb\n" {
		t.Errorf("one node: got %q", out.String())
	}
}

// Colour is decided per stream: with fatih/color's global switch on (as
// when stdout is a terminal), a pipe or a buffer still gets plain text.
func TestColourPerStream(t *testing.T) {
	saved := color.NoColor
	color.NoColor = false
	defer func() { color.NoColor = saved }()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	var buf bytes.Buffer
	for name, out := range map[string]io.Writer{"pipe": w, "buffer": &buf} {
		if colorOn(out) {
			t.Errorf("%s takes colour", name)
		}
	}
	printError(&buf, errors.New("boom"))
	log := newStepLog(&buf)
	log.Printf("phase: done in 1s")
	if strings.Contains(buf.String(), "\x1b[") {
		t.Errorf("escape codes on a buffer: %q", buf.String())
	}
}
