package deploy

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/docker-rke/docker-rke/model"
	"github.com/docker-rke/docker-rke/runtime"
)

// seqNode records every exec of every node in one sequence, so that the
// order across nodes shows; an exec whose script action is failOn fails.
type seqNode struct {
	*fakeNode
	name   string
	mu     *sync.Mutex
	seq    *[]string
	failOn string
}

func (s seqNode) Exec(ctx context.Context, cmd []string, stdin io.Reader) (string, error) {
	if stdin != nil {
		_, _ = io.Copy(io.Discard, stdin)
	}
	what := strings.Join(cmd, " ")
	if cmd[0] == "sh" && len(cmd) > 4 {
		what = cmd[3] + " " + strings.Join(cmd[4:], " ") // the script's name and arguments
	}
	line := s.name + ": " + what
	s.mu.Lock()
	*s.seq = append(*s.seq, line)
	s.mu.Unlock()
	if s.failOn != "" && (strings.HasPrefix(what, s.failOn) || strings.HasPrefix(line, s.failOn)) {
		return "", errors.New("not an etcd snapshot: invalid database")
	}
	return "", nil
}

func seqNodes(t *testing.T, failOn string) (map[string]Node, *[]string) {
	t.Helper()
	return seqNodesOf(plan(t), failOn)
}

func seqNodesOf(c runtime.Cluster, failOn string) (map[string]Node, *[]string) {
	var mu sync.Mutex
	seq := &[]string{}
	nodes := map[string]Node{}
	for _, n := range c.Nodes {
		nodes[n.Name] = seqNode{fakeNode: &fakeNode{}, name: n.Name, mu: &mu, seq: seq, failOn: failOn}
	}
	return nodes, seq
}

func index(t *testing.T, seq []string, prefix string) int {
	t.Helper()
	i := slices.IndexFunc(seq, func(s string) bool { return strings.HasPrefix(s, prefix) })
	if i < 0 {
		t.Fatalf("no %q in:\n%s", prefix, strings.Join(seq, "\n"))
	}
	return i
}

// A restore checks the snapshot in every member before it stops
// anything, stops etcd after everything else, rebuilds each member from
// the member's own flags, and starts etcd before the rest.
func TestRestoreOrder(t *testing.T) {
	c := plan(t)
	nodes, seq := seqNodes(t, "")
	if err := RestoreSnapshot(context.Background(), c, nodes, []byte("snapshot"), RestoreOptions{Stamp: "T", Log: nopLog{}}); err != nil {
		t.Fatal(err)
	}
	s := *seq
	check := index(t, s, "etcd1: etcd check ")
	firstStop := index(t, s, "cp: docker stop")
	if check > firstStop || index(t, s, "etcd1: copy ") > check {
		t.Errorf("stopped before the snapshot was checked:\n%s", strings.Join(s, "\n"))
	}
	etcdStop := index(t, s, "etcd1: docker stop --time 30 etcd")
	for _, other := range []string{"cp: docker stop", "w: docker stop"} {
		if index(t, s, other) > etcdStop {
			t.Errorf("etcd stopped before %s:\n%s", other, strings.Join(s, "\n"))
		}
	}
	restore := index(t, s, "etcd1: etcd restore ")
	if restore < etcdStop || !strings.Contains(s[restore], " etcd1 etcd1=https://etcd1:2380 etcd-c https://etcd1:2380") ||
		!strings.Contains(s[restore], "/var/lib/rancher/etcd.before-restore-T") {
		t.Errorf("restore: %q (after stop: %v)", s[restore], restore > etcdStop)
	}
	etcdStart := index(t, s, "etcd1: docker start etcd")
	if apiStart := index(t, s, "cp: docker start"); apiStart < etcdStart || etcdStart < restore {
		t.Errorf("start order:\n%s", strings.Join(s, "\n"))
	}
}

// A file that is no snapshot stops nothing.
func TestRestoreRefusedChangesNothing(t *testing.T) {
	nodes, seq := seqNodes(t, "etcd check")
	err := RestoreSnapshot(context.Background(), plan(t), nodes, []byte("junk"), RestoreOptions{Stamp: "T", Log: nopLog{}})
	if err == nil || !strings.Contains(err.Error(), "nothing was changed") || !strings.Contains(err.Error(), "not an etcd snapshot") {
		t.Fatalf("err = %v", err)
	}
	for _, s := range *seq {
		if strings.Contains(s, "docker stop") {
			t.Errorf("stopped a component: %s", s)
		}
	}
}

func TestRestoreNeedsEveryNode(t *testing.T) {
	nodes, _ := seqNodes(t, "")
	delete(nodes, "w")
	err := RestoreSnapshot(context.Background(), plan(t), nodes, nil, RestoreOptions{Log: nopLog{}})
	if err == nil || !strings.Contains(err.Error(), "node w is not running") {
		t.Fatalf("err = %v", err)
	}
}

func TestSnapshotOfCluster(t *testing.T) {
	c := plan(t)
	mine, other := &State{Certificates: bundle(t, c)}, &State{Certificates: bundle(t, c)}
	ca := string(mine.Certificates["kube-ca"].CertPEM)
	// As the kube-root-ca.crt ConfigMap holds it, amid etcd's bytes.
	data := []byte("\x00\x01/registry/configmaps/default/kube-root-ca.crt\x12" + strings.TrimSuffix(ca, "\n") + "\x1a\x00")
	if !SnapshotOfCluster(data, mine) {
		t.Error("a snapshot with the cluster's CA is not recognised")
	}
	if SnapshotOfCluster(data, other) {
		t.Error("a snapshot of another cluster is taken for this one's")
	}
	if SnapshotOfCluster([]byte("junk"), mine) {
		t.Error("junk is taken for a snapshot")
	}
	// After cert rotate --ca, the former CA still names the cluster.
	other.FormerCAs = []string{ca}
	if !SnapshotOfCluster(data, other) {
		t.Error("a snapshot made under a former CA is refused")
	}
}

func TestCheckSnapshotName(t *testing.T) {
	for name, ok := range map[string]bool{
		"before-upgrade": true, "s1": true, "2026.12.02_1": true,
		"": false, "-x": false, "a/b": false, "../x": false, "a b": false, "x;rm": false, strings.Repeat("a", 64): false,
	} {
		if got := CheckSnapshotName(name) == nil; got != ok {
			t.Errorf("%q: ok %v, want %v", name, got, ok)
		}
	}
}

// Rotation takes nodes one at a time: etcd members, controlplane, rest.
func TestRollingOrder(t *testing.T) {
	var got []string
	for _, n := range rollingOrder(plan(t)) {
		got = append(got, n.Name)
	}
	if !slices.Equal(got, []string{"etcd1", "cp", "w"}) {
		t.Errorf("order %v", got)
	}
}

// A member whose restore fails leaves the cluster as it was: every
// component started again, on the data it had.
func TestRestoreFailureStartsTheClusterAgain(t *testing.T) {
	nodes, seq := seqNodes(t, "etcd restore")
	err := RestoreSnapshot(context.Background(), plan(t), nodes, []byte("snapshot"), RestoreOptions{Stamp: "T", Log: nopLog{}})
	if err == nil || !strings.Contains(err.Error(), "every member is back on the data it had") {
		t.Fatalf("err = %v", err)
	}
	s := *seq
	restore := index(t, s, "etcd1: etcd restore")
	if start := index(t, s, "etcd1: docker start etcd"); start < restore {
		t.Errorf("etcd not started again after the failed restore:\n%s", strings.Join(s, "\n"))
	}
	if i := index(t, s, "cp: docker start"); i < restore {
		t.Errorf("the control plane not started again:\n%s", strings.Join(s, "\n"))
	}
	// Its data was never moved: nothing to put back.
	if slices.ContainsFunc(s, func(x string) bool { return strings.Contains(x, "unrestore") }) {
		t.Errorf("unrestore without a restore:\n%s", strings.Join(s, "\n"))
	}
}

// With two members, one restored and one failed: the restored one gets
// its data back before anything starts.
func TestRestoreFailurePutsDataBack(t *testing.T) {
	def := &model.Definition{File: "t.go", Clusters: []model.Cluster{{Name: "c", Nodes: []model.Node{
		{Name: "e1", Roles: []model.Role{model.RoleControlPlane, model.RoleEtcd, model.RoleWorker}},
		{Name: "e2", Roles: []model.Role{model.RoleEtcd}},
		{Name: "e3", Roles: []model.Role{model.RoleEtcd}},
	}}}}
	def.ApplyDefaults()
	p, err := runtime.Build(def)
	if err != nil {
		t.Fatal(err)
	}
	nodes, seq := seqNodesOf(p.Clusters[0], "e2: etcd restore")
	err = RestoreSnapshot(context.Background(), p.Clusters[0], nodes, []byte("snapshot"), RestoreOptions{Stamp: "T", Log: nopLog{}})
	if err == nil || !strings.Contains(err.Error(), "node e2") || !strings.Contains(err.Error(), "back on the data it had") {
		t.Fatalf("err = %v", err)
	}
	s := *seq
	for _, n := range []string{"e1", "e3"} {
		undo := index(t, s, n+": etcd unrestore /var/lib/rancher/etcd /var/lib/rancher/etcd.before-restore-T")
		if start := index(t, s, n+": docker start etcd"); start < undo {
			t.Errorf("%s started before its data was back:\n%s", n, strings.Join(s, "\n"))
		}
	}
	if slices.Contains(s, "e2: etcd unrestore /var/lib/rancher/etcd /var/lib/rancher/etcd.before-restore-T") {
		t.Error("the member whose restore failed was undone too")
	}
}
