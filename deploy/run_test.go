package deploy

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/runtime"
)

// fakeNode is a node without a daemon: it records what deploy asks of it,
// and its components answer their health checks from an HTTP server.
type fakeNode struct {
	mu        sync.Mutex
	execs     [][]string
	stdin     [][]byte
	converged []string
	reached   []dind.Milestone
	health    *httptest.Server
}

func (f *fakeNode) Exec(_ context.Context, cmd []string, stdin io.Reader) (string, error) {
	var in []byte
	if stdin != nil {
		in, _ = io.ReadAll(stdin)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.execs = append(f.execs, cmd)
	f.stdin = append(f.stdin, in)
	return "", nil
}

func (f *fakeNode) Converge(_ context.Context, c runtime.Component, _ string) (dind.Action, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.converged = append(f.converged, c.Name)
	return dind.Created, nil
}

func (f *fakeNode) Logs(context.Context, string, int) string { return "(fake logs)" }

func (f *fakeNode) ReadFile(context.Context, string, int64) ([]byte, error) {
	return nil, errors.New("the fake node has no files")
}

// Dial reaches the health server whatever the address: every component
// of the fake node listens there.
func (f *fakeNode) Dial(ctx context.Context, network, _ string) (net.Conn, error) {
	if f.health == nil {
		return nil, errors.New("nothing listens")
	}
	var d net.Dialer
	return d.DialContext(ctx, network, f.health.Listener.Addr().String())
}

func (f *fakeNode) Reached(_ context.Context, m dind.Milestone) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reached = append(f.reached, m)
	return nil
}

type nopLog struct{}

func (nopLog) Printf(string, ...any) {}

func fakeRun(t *testing.T, healthy http.HandlerFunc) (*run, map[string]*fakeNode) {
	t.Helper()
	c := plan(t)
	fakes := map[string]*fakeNode{}
	nodes := map[string]Node{}
	for _, n := range c.Nodes {
		f := &fakeNode{}
		if healthy != nil {
			f.health = httptest.NewServer(healthy)
			t.Cleanup(f.health.Close)
		}
		fakes[n.Name], nodes[n.Name] = f, f
	}
	r := &run{
		c: c, nodes: nodes, bundle: bundle(t, c), st: &State{EncryptionKey: "a2V5"},
		opts:      Options{Timeout: 5 * time.Second, Log: nopLog{}},
		podCIDRs:  map[string]string{"cp": "10.42.0.0/24", "etcd1": "10.42.1.0/24", "w": "10.42.2.0/24"},
		addrs:     map[string]net.IP{"cp": net.IPv4(172, 30, 0, 2), "etcd1": net.IPv4(172, 30, 0, 3), "w": net.IPv4(172, 30, 0, 4)},
		filesHash: map[string]string{}, started: map[string]time.Time{},
	}
	return r, fakes
}

// The order of a deployment, as the table says it: what must come before
// what, however the steps overlap otherwise.
func TestStepOrder(t *testing.T) {
	all := steps()
	if err := checkOrder(all); err != nil {
		t.Fatal(err)
	}
	byName := map[string]step{}
	for _, s := range all {
		byName[s.name] = s
	}
	var before func(a, b string) bool // a comes (transitively) before b
	before = func(a, b string) bool {
		for _, p := range byName[b].after {
			if p == a || before(a, p) {
				return true
			}
		}
		return false
	}
	for _, o := range [][2]string{
		{"certificates", "etcd"},
		{"etcd", "first API server"},
		// The API servers keep Secrets encrypted with the state's key.
		{"state", "first API server"},
		{"first API server", "control plane"},
		{"node objects", "kubelets"},
		{"kubelets", "nodes ready"},
		{"nodes ready", "dns"},
		{"control plane", "dns"},
		{"addons", "dns"},
		{"dns", "kubeconfig"},
	} {
		if !before(o[0], o[1]) {
			t.Errorf("%q does not come before %q", o[0], o[1])
		}
	}
	// Kubelets do not wait for the whole control plane: only for one API
	// server.
	if before("control plane", "kubelets") {
		t.Error("kubelets wait for the whole control plane")
	}
	var phases []string
	for _, s := range all {
		if s.phase != "" {
			phases = append(phases, s.phase)
		}
	}
	if want := []string{"certificates", "etcd", "control plane", "kubelets", "nodes ready", "dns"}; !slices.Equal(phases, want) {
		t.Errorf("phases %v, want %v (bench and the README read them)", phases, want)
	}
}

// installFiles sends each node its files and pod routes in one exec, with
// a tar on stdin, and remembers what the node's components read.
func TestInstallFilesThroughTheNode(t *testing.T) {
	r, fakes := fakeRun(t, nil)
	if err := r.installFiles(context.Background()); err != nil {
		t.Fatal(err)
	}
	for name, f := range fakes {
		if len(f.execs) != 1 || f.execs[0][0] != "sh" || !strings.Contains(f.execs[0][2], "tar -x") {
			t.Fatalf("node %s: execs %v", name, f.execs)
		}
		var files []string
		tr := tar.NewReader(bytes.NewReader(f.stdin[0]))
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			files = append(files, "/"+h.Name)
		}
		for _, want := range []string{runtime.KubeletConfig, CNIConfig, NetworkScriptPath} {
			if !slices.Contains(files, strings.TrimSuffix(want, "/")) {
				t.Errorf("node %s: %s not sent (sent %v)", name, want, files)
			}
		}
		if r.filesHash[name] == "" {
			t.Errorf("node %s: no files hash", name)
		}
	}
}

// startEtcd converges etcd on the etcd node only, once its static image is
// loaded, and waits for the health the plan names.
func TestStartEtcdThroughTheNode(t *testing.T) {
	var asked []string
	var mu sync.Mutex
	r, fakes := fakeRun(t, func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		asked = append(asked, req.URL.Path)
		mu.Unlock()
		_, _ = io.WriteString(w, `{"health":"true"}`)
	})
	if err := r.startEtcd(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := fakes["etcd1"].converged; !slices.Equal(got, []string{"etcd"}) {
		t.Errorf("etcd node converged %v", got)
	}
	if got := fakes["etcd1"].reached; !slices.Equal(got, []dind.Milestone{dind.StaticImageLoaded}) {
		t.Errorf("etcd node waited for %v", got)
	}
	if len(fakes["cp"].converged)+len(fakes["w"].converged) != 0 {
		t.Error("etcd converged on a node without the role")
	}
	if !slices.Contains(asked, "/health") {
		t.Errorf("health asked at %v", asked)
	}
}

// A component that never turns healthy fails the step with its node, its
// health URL and its logs, within the run's timeout.
func TestUnhealthyComponentFails(t *testing.T) {
	r, _ := fakeRun(t, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "not yet", http.StatusServiceUnavailable)
	})
	r.opts.Timeout = time.Second
	err := r.startEtcd(context.Background())
	if err == nil || !strings.Contains(err.Error(), "node etcd1: etcd not healthy at http://127.0.0.1:2381/health") || !strings.Contains(err.Error(), "(fake logs)") {
		t.Errorf("err = %v", err)
	}
}
