// Package deploy carries a cluster's plan out inside its nodes, RKE-style:
// certificates and configs into each node, then etcd on the etcd nodes,
// then the API server, controller-manager and scheduler on the
// controlplane nodes, then every node's kubelet and kube-proxy, each a
// container of the node's own engine; then, with client-go, the Nodes,
// CoreDNS and the readiness checks. The order is one table of steps
// (steps, in run.go); each step converges (what matches is kept) and every
// wait polls a health endpoint with a deadline. deploy reaches nodes only
// through the Node interface, never a docker client.
package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/model"
	"github.com/docker-rke/docker-rke/pki"
	"github.com/docker-rke/docker-rke/runtime"
)

// State is what a cluster keeps between runs (its cluster.rkestate).
type State struct {
	Certificates  pki.Bundle `json:"certificates"`
	EncryptionKey string     `json:"encryptionKey"`
	// Kubeconfig is the absolute path of the kubeconfig up wrote, which
	// rm removes with the cluster.
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// Server is the API server's URL in the kubeconfig; Servers has both
	// ways to reach it: "address" (the node's address on its network)
	// and "published" (127.0.0.1 on the engine's host).
	Server  string            `json:"server,omitempty"`
	Servers map[string]string `json:"servers,omitempty"`
	// APIContainer is the node container whose API server the kubeconfig
	// names. Its published port is the engine's pick at each start of
	// the node, so `docker rke kubeconfig` reads the port afresh.
	APIContainer string `json:"apiContainer,omitempty"`
	// PodCIDRs is each node's block of the pod CIDR, kept for the life of
	// the node.
	PodCIDRs map[string]string `json:"podCIDRs,omitempty"`
	// Plan is the cluster's plan as the last up carried it out: start,
	// ls and load work from it, without the definition file.
	Plan *runtime.Cluster `json:"plan,omitempty"`
	// Merged are the kubeconfig files up --merge or kubeconfig --merge
	// added the cluster's entries to; rm takes them out again.
	Merged []string `json:"merged,omitempty"`
	// Snapshots are the cluster's etcd snapshots, oldest first; their
	// data are files of the state volume (SnapshotFile).
	Snapshots []Snapshot `json:"snapshots,omitempty"`
	// FormerCAs are the cluster CA certificates (PEM) cert rotate --ca
	// replaced: snapshots made under them are still the cluster's.
	FormerCAs []string `json:"formerCAs,omitempty"`
}

// Options tune Up.
type Options struct {
	// KubeconfigDir is where kube_config_<cluster>.yml is written.
	KubeconfigDir string
	// Published makes the kubeconfig reach the API server on the port
	// published on the engine host's 127.0.0.1 instead of the node's
	// address (for engines whose container addresses cannot be reached).
	Published bool
	// Timeout bounds each wait for a component's health.
	Timeout time.Duration
	Log     dind.Logger
	// Start is when the command started, for Result.Marks.
	Start time.Time
	// Renew are certificates made anew even though they are current
	// (cert rotate).
	Renew []string
}

// Result says what Up produced.
type Result struct {
	Kubeconfig string
	// KubeconfigData is what was written to Kubeconfig.
	KubeconfigData []byte
	Server         string
	// Phases are the durations of each phase, for progress and bench.
	Phases []Phase
	// Links are the links of the critical path, measured inside the run:
	// etcd from its start to healthy, the first API server from its start
	// to ready, kubelets from their start to every one registered.
	Links map[string]time.Duration
	// Marks are when milestones were reached, since Options.Start.
	Marks map[string]time.Duration
}

// Phase is one timed step.
type Phase struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"-"`
	Seconds  float64       `json:"seconds"`
}

// NewPhase records a phase's duration.
func NewPhase(name string, d time.Duration) Phase {
	return Phase{Name: name, Duration: d, Seconds: d.Seconds()}
}

// Store keeps clusters' states (dind.Engine keeps them in a volume per
// cluster); image is any image on the engine, to read and write with.
type Store interface {
	LoadState(ctx context.Context, cluster, image string) ([]byte, error)
	SaveState(ctx context.Context, cluster, image string, data []byte) error
}

// Env is what Up works through.
type Env struct {
	// Nodes reach each node of the cluster, by node name.
	Nodes map[string]Node
	Store Store
}

// Up deploys a cluster whose nodes' engines answer: the steps of steps(),
// each as early as its order allows. nodes says where each node is and
// what up did with its container.
func Up(ctx context.Context, c runtime.Cluster, nodes []dind.NodeStatus, env Env, opts Options) (*Result, error) {
	if opts.Timeout == 0 {
		opts.Timeout = 3 * time.Minute
	}
	if opts.Start.IsZero() {
		opts.Start = time.Now()
	}
	r, err := newRun(ctx, c, nodes, env, opts)
	if err != nil {
		return nil, err
	}
	err = runSteps(ctx, r, steps(), r.stepStarted, r.stepDone)
	if r.dns != nil {
		r.dns.cleanup(ctx)
	}
	if err != nil {
		return nil, err
	}
	return r.res, nil
}

// LoadState reads a cluster's state; image is any image on the engine.
func LoadState(ctx context.Context, s Store, cluster, image string) (*State, error) {
	data, err := s.LoadState(ctx, cluster, image)
	if errors.Is(err, dind.ErrNoState) {
		return &State{}, nil
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("cluster %s: state: %w", cluster, err)
	}
	return &st, nil
}

// SaveState writes a cluster's state; image is any image on the engine.
func SaveState(ctx context.Context, s Store, cluster, image string, st *State) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return s.SaveState(ctx, cluster, image, data)
}

func jsonOf(v any) ([]byte, error) { return json.Marshal(v) }

// NetworkScriptPath is where a node keeps its network script: up runs it
// after installing it, and the node's entrypoint runs it again whenever
// the node restarts (a restarted container has a new network namespace,
// without the routes and rules up set; node addresses are fixed, so the
// script stays right).
const NetworkScriptPath = "/etc/docker-rke/network.sh"

// installFiles puts a node's files and network script in place, then runs
// the script, in one exec: tar reads the files on stdin. (The engine's
// copy API executes dockerd once more for every copy, which costs more
// CPU than the exec while every node starts at once.) It returns the hash
// of the files components read; the script, which names every peer, is
// not in it, so adding a node restarts no component.
func installFiles(ctx context.Context, node Node, b pki.Bundle, c runtime.Cluster, n runtime.Node, podCIDR string, enc []byte, network string) (string, error) {
	files, err := nodeFiles(b, c, n, podCIDR, enc)
	if err != nil {
		return "", fmt.Errorf("node %s: %w", n.Name, err)
	}
	data, err := tarFiles(append(files[:len(files):len(files)], file{path: NetworkScriptPath, data: []byte(network), mode: 0o755}))
	if err != nil {
		return "", err
	}
	script := "tar -x -m -C / --no-overwrite-dir -f -\nsh -e " + NetworkScriptPath + "\n"
	if _, err := node.Exec(ctx, []string{"sh", "-ec", script}, bytes.NewReader(data)); err != nil {
		return "", fmt.Errorf("cluster %s node %s: installing certificates and pod routes: %w", c.Name, n.Name, err)
	}
	return filesDigest(files), nil
}

func component(n runtime.Node, name string) (runtime.Component, bool) {
	for _, c := range n.Components {
		if c.Name == name {
			return c, true
		}
	}
	return runtime.Component{}, false
}

func nodesWith(c runtime.Cluster, r model.Role) []runtime.Node {
	var out []runtime.Node
	for _, n := range c.Nodes {
		if n.HasRole(r) {
			out = append(out, n)
		}
	}
	return out
}

// notReadyError names every node that is not Ready, why, and the last
// lines of its kubelet's log.
func notReadyError(ctx context.Context, nodes map[string]Node, c runtime.Cluster, prog nodeProgress, timeout time.Duration) error {
	notReady := prog.notReady
	names := slices.Sorted(maps.Keys(notReady))
	var b strings.Builder
	fmt.Fprintf(&b, "cluster %s: not every node Ready within %s:", c.Name, timeout)
	if prog.apiErr != nil {
		fmt.Fprintf(&b, "\n  listing Nodes: %v", prog.apiErr)
	}
	for _, name := range names {
		fmt.Fprintf(&b, "\n  node %s: %s", name, notReady[name])
	}
	for _, n := range c.Nodes {
		if _, ok := notReady[n.Name]; !ok {
			continue
		}
		fmt.Fprintf(&b, "\nkubelet on node %s, last lines:\n%s", n.Name, nodes[n.Name].Logs(ctx, model.ComponentKubelet, 15))
	}
	return errors.New(b.String())
}
