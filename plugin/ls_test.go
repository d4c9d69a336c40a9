package plugin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/images"
)

func TestClusterState(t *testing.T) {
	nodes := func(states ...string) *dind.ClusterInfo {
		cl := &dind.ClusterInfo{Nodes: len(states)}
		for i, s := range states {
			cl.NodeList = append(cl.NodeList, dind.NodeInfo{Name: string(rune('a' + i)), State: s})
			if s == "running" {
				cl.Running++
			}
		}
		return cl
	}
	all := map[string]bool{"a": true, "b": true, "c": true}
	for _, tt := range []struct {
		name  string
		cl    *dind.ClusterInfo
		ready map[string]bool
		err   error
		state string
		count int
	}{
		{"every node runs and is Ready", nodes("running", "running", "running"), all, nil, "running", 3},
		{"one node NotReady", nodes("running", "running", "running"), map[string]bool{"a": true, "b": true}, nil, "degraded (2/3 Ready)", 2},
		// A stopped node's Node still says Ready until the node controller
		// notices: the container decides.
		{"one node stopped", nodes("running", "exited", "running"), all, nil, "degraded (2/3 running, 2 Ready)", 2},
		{"no API server answers", nodes("running", "running", "running"), nil, errors.New("refused"), "degraded (3/3 running, API not answering)", 0},
	} {
		if got := clusterState(tt.cl, tt.ready, tt.err); got != tt.state || tt.cl.Ready != tt.count || tt.cl.ReadyKnown != (tt.err == nil) {
			t.Errorf("%s: %q, %d ready (known %v); want %q, %d", tt.name, got, tt.cl.Ready, tt.cl.ReadyKnown, tt.state, tt.count)
		}
	}
}

// TestVersionFormats: version's table rows are the releases, the default
// first, in docker's table forms; json and templates see the whole.
func TestVersionFormats(t *testing.T) {
	rels := images.Releases()
	for format, want := range map[string]string{
		"table {{.Kubernetes}}\t{{.Pause}}": "KUBERNETES   PAUSE\n" + rels[0].Kubernetes + "      " + rels[0].Pause + "\n",
		"{{(index .Releases 0).Etcd}}":      rels[0].Etcd + "\n",
		"json":                              `"Releases":[{"Kubernetes":"` + rels[0].Kubernetes + `"`,
	} {
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), []string{"docker-rke", "version", "--format", format}, Options{Stdout: &stdout, Stderr: &stderr, Getenv: noEnv})
		if code != 0 || !strings.Contains(stdout.String(), want) {
			t.Errorf("version --format %q: exit %d\n%s%s\nwant %q", format, code, stdout.String(), stderr.String(), want)
		}
	}
	var stdout bytes.Buffer
	Run(context.Background(), []string{"docker-rke", "version", "--format", "table"}, Options{Stdout: &stdout, Stderr: io.Discard, Getenv: noEnv})
	if lines := strings.Split(strings.TrimSpace(stdout.String()), "\n"); len(lines) != len(rels)+1 || !strings.HasPrefix(lines[0], "KUBERNETES") {
		t.Errorf("version --format table: want a header and %d releases:\n%s", len(rels), stdout.String())
	}
}
