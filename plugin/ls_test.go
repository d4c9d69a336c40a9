package plugin

import (
	"errors"
	"testing"

	"github.com/docker-rke/docker-rke/dind"
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
