package deploy

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/internal/fanout"
	"github.com/docker-rke/docker-rke/model"
	"github.com/docker-rke/docker-rke/pki"
	"github.com/docker-rke/docker-rke/runtime"
)

// Snapshot is an etcd snapshot kept in a cluster's state: its data is a
// file of the state volume (SnapshotFile), so it outlives every node and
// goes only with the cluster.
type Snapshot struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// Member is the etcd node it was taken from.
	Member   string `json:"member"`
	Revision int64  `json:"revision"`
	Keys     int64  `json:"keys"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
}

// MaxSnapshotSize bounds a snapshot docker rke reads: etcd's default
// storage quota.
const MaxSnapshotSize = 2 << 30

// SnapshotFile is where a snapshot's data lives in the state volume.
func SnapshotFile(name string) string { return "snapshots/" + name + ".db" }

// snapshotName is what a snapshot may be called: a file name on every
// system, and a word in a shell.
var snapshotName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// CheckSnapshotName says why name cannot name a snapshot, or nil.
func CheckSnapshotName(name string) error {
	if !snapshotName.MatchString(name) {
		return fmt.Errorf("snapshot name %q: want letters, digits, '.', '_' or '-', starting with a letter or digit, at most 63", name)
	}
	return nil
}

// etcdScript is etcd.sh: the snapshot's work inside an etcd node.
//
//go:embed etcd.sh
var etcdScript string

// Where an etcd node keeps a snapshot while it is made or restored: on its
// /var volume, next to etcd's data.
var (
	snapshotWorkDir = path.Dir(runtime.EtcdDataDir) + "/etcd-snapshots"
	restoreFile     = path.Dir(runtime.EtcdDataDir) + "/etcd-restore.db"
)

func etcdCommand(args ...string) []string {
	return append([]string{"sh", "-c", etcdScript, "etcd"}, args...)
}

// SaveSnapshot takes a consistent snapshot of a cluster's etcd from the
// first of its members (in the plan's order) that gives one, and returns
// it with its data.
func SaveSnapshot(ctx context.Context, c runtime.Cluster, nodes map[string]Node, name string) (Snapshot, []byte, error) {
	if err := CheckSnapshotName(name); err != nil {
		return Snapshot{}, nil, err
	}
	var errs []error
	for _, n := range nodesWith(c, model.RoleEtcd) {
		node, ok := nodes[n.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("etcd node %s is not running", n.Name))
			continue
		}
		s, data, err := saveFrom(ctx, node, n.Name, name)
		if err == nil {
			return s, data, nil
		}
		errs = append(errs, fmt.Errorf("etcd node %s: %w", n.Name, err))
	}
	if len(errs) == 0 {
		return Snapshot{}, nil, fmt.Errorf("cluster %s has no etcd node", c.Name)
	}
	return Snapshot{}, nil, fmt.Errorf("cluster %s: no etcd member gave a snapshot: %w", c.Name, errors.Join(errs...))
}

func saveFrom(ctx context.Context, node Node, member, name string) (Snapshot, []byte, error) {
	file := snapshotWorkDir + "/" + name + ".db"
	cert, key := runtime.EtcdCert(member)
	out, err := node.Exec(ctx, etcdCommand("save", file, runtime.Cert(runtime.CertEtcdCA), cert, key), nil)
	if err != nil {
		return Snapshot{}, nil, err
	}
	// The node keeps no copy: the state volume is where snapshots live.
	defer func() { _, _ = node.Exec(context.WithoutCancel(ctx), []string{"rm", "-f", file}, nil) }()
	var status struct {
		Revision  int64 `json:"revision"`
		TotalKey  int64 `json:"totalKey"`
		TotalSize int64 `json:"totalSize"`
	}
	if err := json.Unmarshal([]byte(lastLine(out)), &status); err != nil {
		return Snapshot{}, nil, fmt.Errorf("reading the snapshot's status %q: %w", lastLine(out), err)
	}
	data, err := node.ReadFile(ctx, file, MaxSnapshotSize)
	if err != nil {
		return Snapshot{}, nil, err
	}
	sum := sha256.Sum256(data)
	return Snapshot{
		Name: name, Created: time.Now().UTC().Truncate(time.Second), Member: member,
		Revision: status.Revision, Keys: status.TotalKey, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]),
	}, data, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// RestoreOptions tune RestoreSnapshot.
type RestoreOptions struct {
	// Stamp names the folder each member's previous data is kept in
	// (EtcdDataDir.before-restore-<Stamp>).
	Stamp string
	Log   dind.Logger
}

// RestoreSnapshot rebuilds a cluster's etcd from a snapshot, RKE-style:
// every component of every node is stopped, each etcd member's data is
// rebuilt from the same snapshot as a member of a new cluster (its old
// data kept beside it), and the components are started again, etcd
// first. WaitReady then waits until the cluster serves. Every node of
// the plan must be running.
func RestoreSnapshot(ctx context.Context, c runtime.Cluster, nodes map[string]Node, data []byte, opts RestoreOptions) error {
	for _, n := range c.Nodes {
		if nodes[n.Name] == nil {
			return fmt.Errorf("cluster %s: node %s is not running: start the cluster first (docker rke start %s)", c.Name, n.Name, c.Name)
		}
	}
	etcd := nodesWith(c, model.RoleEtcd)
	if len(etcd) == 0 {
		return fmt.Errorf("cluster %s has no etcd node", c.Name)
	}
	// Into every member first, and checked there: a file that is no
	// snapshot is refused before anything stops.
	err := fanout.Each(etcd, func(_ int, n runtime.Node) error {
		node := nodes[n.Name]
		if _, err := node.Exec(ctx, []string{"sh", "-c", `umask 077 && cat >"$1"`, "copy", restoreFile}, bytes.NewReader(data)); err != nil {
			return fmt.Errorf("node %s: copying the snapshot in: %w", n.Name, err)
		}
		if _, err := node.Exec(ctx, etcdCommand("check", restoreFile), nil); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cluster %s: nothing was changed: %w", c.Name, err)
	}
	opts.Log.Printf("[%s] stopping every component", c.Name)
	err = stopAll(ctx, c, nodes, etcd, opts.Log)
	if err != nil {
		// Whatever stopped starts again, on the data it had.
		return errors.Join(fmt.Errorf("cluster %s: stopping components: %w; the components start again on the data they had", c.Name, err), startAll(ctx, c, nodes, etcd))
	}
	opts.Log.Printf("[%s] every component stopped; restoring etcd's data", c.Name)
	keep := runtime.EtcdDataDir + ".before-restore-" + opts.Stamp
	restored := make([]bool, len(etcd))
	err = fanout.Each(etcd, func(i int, n runtime.Node) error {
		flags, err := etcdFlags(n)
		if err != nil {
			return err
		}
		if _, err := nodes[n.Name].Exec(ctx, etcdCommand("restore", restoreFile, runtime.EtcdDataDir, keep,
			flags["name"], flags["initial-cluster"], flags["initial-cluster-token"], flags["initial-advertise-peer-urls"]), nil); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
		restored[i] = true
		opts.Log.Printf("[%s] node %s: etcd data restored; what it held is kept in %s", c.Name, n.Name, keep)
		return nil
	})
	if err != nil {
		// Members on different data would not form one cluster: every
		// member goes back to what it held, and the cluster starts again
		// as it was.
		var undo []error
		for i, n := range etcd {
			if restored[i] {
				if _, uerr := nodes[n.Name].Exec(context.WithoutCancel(ctx), etcdCommand("unrestore", runtime.EtcdDataDir, keep), nil); uerr != nil {
					undo = append(undo, fmt.Errorf("node %s: putting its data back: %w", n.Name, uerr))
				}
			}
		}
		if len(undo) > 0 {
			return errors.Join(append([]error{fmt.Errorf("cluster %s: restoring etcd: %w", c.Name, err)}, undo...)...)
		}
		return errors.Join(fmt.Errorf("cluster %s: restoring etcd: %w; every member is back on the data it had", c.Name, err), startAll(ctx, c, nodes, etcd))
	}
	if err := startAll(ctx, c, nodes, etcd); err != nil {
		return fmt.Errorf("cluster %s: starting components: %w", c.Name, err)
	}
	return nil
}

// stopAll stops every component in three waves: the API servers'
// clients, the API servers, etcd. An API server whose etcd went first
// waits out its whole grace period (30 s) instead of stopping in a second,
// and one stopped with its clients took up to 17 s on cluster2.
func stopAll(ctx context.Context, c runtime.Cluster, nodes map[string]Node, etcd []runtime.Node, log dind.Logger) error {
	// Leases are not given back: the restored data has its own.
	if err := StopAPIServers(ctx, c, nodes, StopOptions{Log: log}); err != nil {
		return err
	}
	// One member at a time: a leader stopping hands its leadership to a
	// member that still runs, at once; members stopped together wait out
	// their election timeouts (15 s on cluster2).
	for _, n := range etcd {
		if err := dockerIn(ctx, nodes[n.Name], "stop", []string{model.ComponentEtcd}); err != nil {
			return err
		}
	}
	return nil
}

// StopOptions tune StopAPIServers.
type StopOptions struct {
	Log dind.Logger
	// Certificates, when set, let it give the control plane's leader
	// leases back once every controller-manager and scheduler has stopped
	// (their API servers still answer then): a cluster started again
	// elects its leaders at once instead of waiting for its own
	// components' retry (2-4 s, on the way to DNS answering).
	Certificates pki.Bundle
}

// StopAPIServers stops, across all the cluster's nodes in nodes (the
// ones that run), the API servers' clients, then the API servers, leaving
// etcd running: the first two waves of stopAll, which stop, before the
// nodes stop themselves, needs too. Each node stops its own components in
// order, but the nodes of an HA cluster stop at once, and an API server
// whose etcd quorum went with the other nodes waits out its grace period.
func StopAPIServers(ctx context.Context, c runtime.Cluster, nodes map[string]Node, opts StopOptions) error {
	apiServer := func(name string) bool { return name == model.ComponentAPIServer }
	running := slices.DeleteFunc(slices.Clone(c.Nodes), func(n runtime.Node) bool { return nodes[n.Name] == nil })
	var leases *leaseHandOver
	if opts.Certificates != nil {
		leases = connectForLeases(ctx, c, running, nodes, opts)
		defer leases.close()
	}
	err := fanout.Each(running, func(_ int, n runtime.Node) error {
		return dockerIn(ctx, nodes[n.Name], "stop", slices.DeleteFunc(withoutEtcd(componentNames(n)), apiServer))
	})
	if err != nil {
		return err
	}
	opts.Log.Printf("[%s] the API servers' clients stopped", c.Name)
	leases.giveBack()
	err = fanout.Each(running, func(_ int, n runtime.Node) error {
		if !n.HasRole(model.RoleControlPlane) {
			return nil
		}
		return dockerIn(ctx, nodes[n.Name], "stop", []string{model.ComponentAPIServer})
	})
	if err != nil {
		return err
	}
	opts.Log.Printf("[%s] the API servers stopped", c.Name)
	return nil
}

// leaseHandOver gives the leader leases back through the first running
// API server once every component that could hold one has stopped. It
// is a courtesy to the next start, which releases stale leases itself, so
// a failure is logged and the stop goes on.
type leaseHandOver struct {
	cluster string
	ctx     context.Context
	cancel  context.CancelFunc
	log     dind.Logger
	ready   chan struct{} // closed once cs and err are set
	cs      kubernetes.Interface
	err     error
}

// close ends the connection's context, given back or not.
func (h *leaseHandOver) close() {
	if h != nil {
		h.cancel()
	}
}

// connectForLeases connects to the first running API server while the
// components stop (a tunnel into the node and a TLS handshake: about half
// a second of a stop otherwise). A nil result, for a cluster with no
// running controlplane node, gives nothing back.
func connectForLeases(ctx context.Context, c runtime.Cluster, running []runtime.Node, nodes map[string]Node, opts StopOptions) *leaseHandOver {
	i := slices.IndexFunc(running, func(n runtime.Node) bool { return n.HasRole(model.RoleControlPlane) })
	if i < 0 {
		return nil
	}
	h := &leaseHandOver{cluster: c.Name, log: opts.Log, ready: make(chan struct{})}
	h.ctx, h.cancel = context.WithTimeout(ctx, 30*time.Second)
	go func() {
		defer close(h.ready)
		cs, _, err := kubeClients(nodes[running[i].Name], opts.Certificates)
		if err == nil {
			// Any request opens the connection the release then reuses;
			// this one ends with the stop's context.
			_, err = cs.CoordinationV1().Leases("kube-system").List(h.ctx, metav1.ListOptions{Limit: 1})
		}
		h.cs, h.err = cs, err
	}()
	return h
}

func (h *leaseHandOver) giveBack() {
	if h == nil {
		return
	}
	<-h.ready
	err := h.err
	if err == nil {
		err = releaseLeases(h.ctx, h.cs, h.cluster, func(*coordinationv1.Lease) bool { return true }, h.log)
	}
	if err != nil {
		h.log.Printf("[%s] leader leases not given back (the next start releases them): %v", h.cluster, err)
	}
}

// startAll starts every component: every etcd member at once (one alone
// has no quorum to wait for), then the rest.
func startAll(ctx context.Context, c runtime.Cluster, nodes map[string]Node, etcd []runtime.Node) error {
	ctx = context.WithoutCancel(ctx)
	err := fanout.Each(etcd, func(_ int, n runtime.Node) error {
		return dockerIn(ctx, nodes[n.Name], "start", []string{model.ComponentEtcd})
	})
	if err != nil {
		return err
	}
	return fanout.Each(c.Nodes, func(_ int, n runtime.Node) error {
		return dockerIn(ctx, nodes[n.Name], "start", withoutEtcd(componentNames(n)))
	})
}

func componentNames(n runtime.Node) []string {
	var names []string
	for _, comp := range n.Components {
		names = append(names, comp.Name)
	}
	return names
}

func withoutEtcd(names []string) []string {
	return slices.DeleteFunc(names, func(s string) bool { return s == model.ComponentEtcd })
}

// dockerIn runs docker stop or start on components in a node's engine.
func dockerIn(ctx context.Context, node Node, verb string, names []string) error {
	if len(names) == 0 {
		return nil
	}
	args := []string{"docker", verb}
	if verb == "stop" {
		args = append(args, "--time", "30")
	}
	_, err := node.Exec(ctx, append(args, names...), nil)
	return err
}

// etcdFlags are the flags of a node's etcd component, by name.
func etcdFlags(n runtime.Node) (map[string]string, error) {
	for _, comp := range n.Components {
		if comp.Name != model.ComponentEtcd {
			continue
		}
		flags := map[string]string{}
		for _, a := range comp.Args {
			if k, v, ok := strings.Cut(strings.TrimPrefix(a, "--"), "="); ok {
				flags[k] = v
			}
		}
		return flags, nil
	}
	return nil, fmt.Errorf("node %s runs no etcd", n.Name)
}

// SnapshotOfCluster reports whether a snapshot's data holds the cluster's
// own objects: one of its CA certificates (the current one, or one it had
// before cert rotate --ca), which the kube-root-ca.crt ConfigMap of every
// namespace carries as PEM text, appears in it. A snapshot of another
// cluster would replace this cluster's objects with another's.
func SnapshotOfCluster(data []byte, st *State) bool {
	cas := append([]string{string(st.Certificates[runtime.CertCA].CertPEM)}, st.FormerCAs...)
	for _, ca := range cas {
		body := bytes.TrimSpace([]byte(ca))
		// The PEM's base64 lines, without its armour: the ConfigMap may
		// add or drop a trailing newline.
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			body = body[i+1:]
		}
		if i := bytes.LastIndexByte(body, '\n'); i >= 0 {
			body = body[:i]
		}
		if len(body) > 0 && bytes.Contains(data, body) {
			return true
		}
	}
	return false
}

// NodeSnapshot is a recurring snapshot kept on an etcd node
// (runtime.ComponentEtcdSnapshots).
type NodeSnapshot struct {
	Name    string
	Node    string
	Created time.Time
	Size    int64
}

// NodeSnapshots lists the recurring snapshots of every etcd node that
// runs, oldest first.
func NodeSnapshots(ctx context.Context, c runtime.Cluster, nodes map[string]Node) ([]NodeSnapshot, error) {
	etcd := nodesWith(c, model.RoleEtcd)
	found := make([][]NodeSnapshot, len(etcd))
	err := fanout.Each(etcd, func(i int, n runtime.Node) error {
		node := nodes[n.Name]
		if node == nil {
			return nil
		}
		out, err := node.Exec(ctx, []string{"sh", "-c", `cd "$1" 2>/dev/null || exit 0; for f in auto-*.db; do [ -f "$f" ] && stat -c '%n %s %Y' "$f"; done; exit 0`, "ls", runtime.EtcdSnapshotDir}, nil)
		if err != nil {
			return fmt.Errorf("node %s: listing snapshots: %w", n.Name, err)
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var file string
			var size, mtime int64
			if _, err := fmt.Sscanf(line, "%s %d %d", &file, &size, &mtime); err == nil {
				found[i] = append(found[i], NodeSnapshot{Name: strings.TrimSuffix(file, ".db"), Node: n.Name, Created: time.Unix(mtime, 0).UTC(), Size: size})
			}
		}
		return nil
	})
	var all []NodeSnapshot
	for _, f := range found {
		all = append(all, f...)
	}
	slices.SortStableFunc(all, func(a, b NodeSnapshot) int { return a.Created.Compare(b.Created) })
	return all, err
}

// ReadNodeSnapshot reads a recurring snapshot from the node that keeps it.
func ReadNodeSnapshot(ctx context.Context, node Node, s NodeSnapshot) ([]byte, error) {
	return node.ReadFile(ctx, runtime.EtcdSnapshotDir+"/"+s.Name+".db", MaxSnapshotSize)
}
