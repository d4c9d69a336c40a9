package deploy

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/internal/fanout"
	"github.com/docker-rke/docker-rke/model"
	"github.com/docker-rke/docker-rke/pki"
	"github.com/docker-rke/docker-rke/runtime"
)

// steps is the order of a cluster's deployment, once its nodes' engines
// answer. Each step starts as soon as the steps it comes after are done:
//
//	state ───────────────────────────────┐
//	certificates ─ etcd ─ first API server ┬ control plane ───────────┐
//	                  │                    ├ node objects ─ kubelets ─ nodes ready ┬ dns ─ kubeconfig
//	                  │                    └ addons ────────────────────────────────┤
//	                  └ etcd snapshots                              nodes ready ─ uncordon
//
// The first controlplane node's API server starts alone: it writes the
// cluster's bootstrap objects (RBAC, priority classes, ...), and three API
// servers doing that at once on two cores, with etcd replicating every
// write, was measured four times slower. Kubelets start as soon as it
// answers, while the rest of the control plane comes up; DNS needs it all.
func steps() []step {
	return []step{
		{name: "state", do: (*run).saveState},
		{name: "certificates", phase: "certificates", do: (*run).installFiles},
		{name: "etcd", after: []string{"certificates"}, phase: "etcd", do: (*run).startEtcd},
		{name: "etcd snapshots", after: []string{"etcd"}, do: (*run).startEtcdSnapshots},
		{name: "first API server", after: []string{"etcd", "state"}, do: (*run).startFirstAPIServer},
		{name: "control plane", after: []string{"first API server"}, phase: "control plane", phaseFrom: "first API server", do: (*run).startControlPlane},
		{name: "node objects", after: []string{"first API server"}, do: (*run).ensureNodes},
		{name: "addons", after: []string{"first API server"}, do: (*run).applyAddons},
		{name: "kubelets", after: []string{"node objects"}, phase: "kubelets", phaseFrom: "node objects", do: (*run).startKubelets},
		{name: "nodes ready", after: []string{"kubelets"}, phase: "nodes ready", do: (*run).waitNodesReady},
		{name: "uncordon", after: []string{"nodes ready"}, do: (*run).uncordonUpgraded},
		{name: "dns", after: []string{"nodes ready", "control plane", "addons"}, phase: "dns", do: (*run).waitDNS},
		{name: "kubeconfig", after: []string{"dns"}, do: (*run).writeKubeconfig},
	}
}

// run is one cluster's deployment: what its steps read and fill in.
type run struct {
	c     runtime.Cluster
	opts  Options
	store Store
	nodes map[string]Node // by node name
	addrs map[string]net.IP
	// since is when each node's container (re)started in this run: its
	// Node's Ready and its components' leader leases are from before.
	since     map[string]time.Time
	restarted []string

	st         *State
	stateDirty bool
	made       []string // certificates made or renewed
	bundle     pki.Bundle
	podCIDRs   map[string]string
	server     string
	kubeconfig string

	// Filled by the steps, each before the steps that come after it.
	filesHash map[string]string // what each node's components read
	apiNode   runtime.Node      // the first API server that answered
	cs        kubernetes.Interface
	dyn       dynamic.Interface
	dns       *dnsCheck

	mu      sync.Mutex
	started map[string]time.Time
	res     *Result
}

// newRun works out everything the state will hold: certificates, pod
// blocks, where the kubeconfig goes and the API server it names.
func newRun(ctx context.Context, c runtime.Cluster, nodes []dind.NodeStatus, env Env, opts Options) (*run, error) {
	st, err := LoadState(ctx, env.Store, c.Name, c.NodeImage)
	if err != nil {
		return nil, err
	}
	r := &run{
		c: c, opts: opts, store: env.Store, nodes: env.Nodes, st: st,
		addrs: map[string]net.IP{}, since: map[string]time.Time{}, filesHash: map[string]string{},
		started: map[string]time.Time{},
		res:     &Result{Links: map[string]time.Duration{}, Marks: map[string]time.Duration{}},
	}
	for _, n := range nodes {
		r.addrs[n.Node] = net.ParseIP(n.Address).To4()
		if n.Action != dind.Kept {
			r.since[n.Node] = opts.Start
			r.restarted = append(r.restarted, n.Node)
		}
	}
	for _, n := range c.Nodes {
		if r.nodes[n.Name] == nil {
			return nil, fmt.Errorf("cluster %s: node %s is not running", c.Name, n.Name)
		}
	}
	reqs, err := pki.Requests(c, r.addrs)
	if err != nil {
		return nil, err
	}
	have := maps.Clone(st.Certificates)
	for _, name := range opts.Renew {
		delete(have, name)
	}
	if r.bundle, r.made, err = pki.Ensure(have, reqs, time.Now()); err != nil {
		return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	names := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		names[i] = n.Name
	}
	if r.podCIDRs, err = assignPodCIDRs(c.PodCIDR, runtime.NodeCIDRMaskSize, st.PodCIDRs, names); err != nil {
		return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	cp := nodesWith(c, model.RoleControlPlane)[0]
	servers := map[string]string{"address": fmt.Sprintf("https://%s:%d", r.addrs[cp.Name], runtime.APIServerPort)}
	for _, n := range nodes {
		if n.Node == cp.Name && n.APIPort != "" {
			servers["published"] = "https://127.0.0.1:" + n.APIPort
		}
	}
	r.server = servers["address"]
	if opts.Published {
		if r.server = servers["published"]; r.server == "" {
			return nil, fmt.Errorf("cluster %s: node %s publishes no API server port", c.Name, cp.Name)
		}
	}
	if r.kubeconfig, err = filepath.Abs(filepath.Join(opts.KubeconfigDir, pki.KubeconfigFile(c.Name))); err != nil {
		return nil, err
	}
	r.stateDirty = len(r.made) > 0 || st.EncryptionKey == "" || r.kubeconfig != st.Kubeconfig || r.server != st.Server || !maps.Equal(servers, st.Servers) || !maps.Equal(r.podCIDRs, st.PodCIDRs) || cp.ContainerName != st.APIContainer || !samePlan(st.Plan, &c)
	st.Certificates, st.Kubeconfig, st.Server, st.Servers, st.PodCIDRs, st.APIContainer, st.Plan = r.bundle, r.kubeconfig, r.server, servers, r.podCIDRs, cp.ContainerName, &c
	if st.EncryptionKey == "" {
		if st.EncryptionKey, err = newEncryptionKey(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// stepDone records a step's time: its phase's, for progress and the
// timings, and the links and milestones of the critical path.
func (r *run) stepDone(s step, took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	switch s.name {
	case "etcd":
		r.res.Links["etcd"] = took
	case "first API server":
		r.res.Links["apiserver"] = took
		r.res.Marks["apiserver"] = now.Sub(r.opts.Start)
	}
	if s.phase == "" {
		return
	}
	from := r.started[s.name]
	if s.phaseFrom != "" {
		from = r.started[s.phaseFrom]
	}
	d := now.Sub(from)
	r.res.Phases = append(r.res.Phases, NewPhase(s.phase, d))
	r.res.Marks[s.phase] = now.Sub(r.opts.Start)
	r.opts.Log.Printf("[%s] %s: done in %s", r.c.Name, s.phase, d.Round(10*time.Millisecond))
}

// stepStarted records when a step started.
func (r *run) stepStarted(s step) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started[s.name] = time.Now()
}

// saveState saves the state once, only if something changed. The state
// is saved while the files go into the nodes and etcd starts, and the API
// servers wait for it: they are the first to keep anything that needs it
// (Secrets encrypted with its key). An up that dies before leaves etcd
// with certificates the next up replaces, and no data. It finishes even
// when another step failed: a failed up's cleanup must not race it, and
// the nodes may hold the new certificates already.
func (r *run) saveState(ctx context.Context) error {
	if !r.stateDirty {
		return nil
	}
	if err := SaveState(context.WithoutCancel(ctx), r.store, r.c.Name, r.c.NodeImage, r.st); err != nil {
		return err
	}
	r.opts.Log.Printf("[%s] certificates: %d made or renewed", r.c.Name, len(r.made))
	return nil
}

// installFiles puts every node's certificates, configs and pod routes in
// place, while nothing runs yet.
func (r *run) installFiles(ctx context.Context) error {
	enc := encryptionConfig(r.st.EncryptionKey)
	return fanout.Each(r.c.Nodes, func(_ int, n runtime.Node) error {
		var peers []peer
		for _, o := range r.c.Nodes {
			if o.Name != n.Name {
				peers = append(peers, peer{podCIDR: r.podCIDRs[o.Name], address: r.addrs[o.Name].String()})
			}
		}
		h, err := installFiles(ctx, r.nodes[n.Name], r.bundle, r.c, n, r.podCIDRs[n.Name], enc, networkScript(r.c, peers))
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.filesHash[n.Name] = h
		r.mu.Unlock()
		return nil
	})
}

// startEtcd starts every etcd member at once, as one cluster, and waits
// until each is healthy.
func (r *run) startEtcd(ctx context.Context) error {
	return fanout.Each(nodesWith(r.c, model.RoleEtcd), func(_ int, n runtime.Node) error {
		return r.start(ctx, n, model.ComponentEtcd)
	})
}

// startEtcdSnapshots starts the recurring snapshots of each etcd node
// where the plan has them, and removes them where it no longer has: a
// component outside the plan would keep running otherwise.
func (r *run) startEtcdSnapshots(ctx context.Context) error {
	return fanout.Each(nodesWith(r.c, model.RoleEtcd), func(_ int, n runtime.Node) error {
		if _, planned := component(n, runtime.ComponentEtcdSnapshots); planned {
			return r.start(ctx, n, runtime.ComponentEtcdSnapshots)
		}
		if _, err := r.nodes[n.Name].Exec(ctx, []string{"docker", "rm", "--force", runtime.ComponentEtcdSnapshots}, nil); err != nil && !strings.Contains(err.Error(), "No such container") {
			return fmt.Errorf("cluster %s node %s: removing %s: %w", r.c.Name, n.Name, runtime.ComponentEtcdSnapshots, err)
		}
		return nil
	})
}

// startFirstAPIServer starts the control plane of the first controlplane
// node, all three components at once (the controller-manager's start, its
// controllers' caches, about 5 s on two cores, is on the way to DNS
// answering, and it waits for the API server by itself), and returns when
// its API server is ready: the run's clients of the cluster then go
// through it.
func (r *run) startFirstAPIServer(ctx context.Context) error {
	n := nodesWith(r.c, model.RoleControlPlane)[0]
	if err := r.converge(ctx, n, model.ComponentAPIServer, model.ComponentControllerManager, model.ComponentScheduler); err != nil {
		return err
	}
	if err := r.healthy(ctx, n, model.ComponentAPIServer); err != nil {
		return err
	}
	cs, dyn, err := kubeClients(r.nodes[n.Name], r.bundle)
	if err != nil {
		return err
	}
	r.apiNode, r.cs, r.dyn = n, cs, dyn
	return releaseStaleLeases(ctx, cs, r.c.Name, r.restarted, r.opts.Start, r.opts.Log)
}

// startControlPlane starts the other controlplane nodes' components and
// waits until every API server, controller-manager and scheduler is
// healthy.
func (r *run) startControlPlane(ctx context.Context) error {
	first := r.apiNode.Name
	return fanout.Each(nodesWith(r.c, model.RoleControlPlane), func(_ int, n runtime.Node) error {
		if n.Name != first {
			if err := r.start(ctx, n, model.ComponentAPIServer, model.ComponentControllerManager, model.ComponentScheduler); err != nil {
				return err
			}
		}
		return fanout.All(
			func() error { return r.healthy(ctx, n, model.ComponentControllerManager) },
			func() error { return r.healthy(ctx, n, model.ComponentScheduler) },
		)
	})
}

// ensureNodes makes every Node, with its pod block, roles and taints,
// before its kubelet registers.
func (r *run) ensureNodes(ctx context.Context) error {
	return ensureNodes(ctx, r.cs, r.c, r.podCIDRs)
}

// applyAddons applies CoreDNS and the API server's access to kubelets,
// and creates the pod that checks DNS, which runs as soon as a node and
// CoreDNS can take it.
func (r *run) applyAddons(ctx context.Context) error {
	if err := applyAddons(ctx, r.dyn, r.c); err != nil {
		return err
	}
	dns, err := startDNSCheck(ctx, r.cs, r.c, r.opts.Timeout)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.dns = dns
	r.mu.Unlock()
	return nil
}

// startKubelets starts every node's kubelet and kube-proxy (and the API
// proxy of nodes without an API server).
func (r *run) startKubelets(ctx context.Context) error {
	return fanout.Each(r.c.Nodes, func(_ int, n runtime.Node) error {
		var names []string
		for _, name := range []string{runtime.ComponentAPIProxy, model.ComponentKubelet, model.ComponentKubeProxy} {
			if _, ok := component(n, name); ok {
				names = append(names, name)
			}
		}
		if err := r.waitImages(ctx, n, names...); err != nil {
			return err
		}
		return r.converge(ctx, n, names...)
	})
}

// waitNodesReady waits until every node is Ready, and records when every
// kubelet had registered.
func (r *run) waitNodesReady(ctx context.Context) error {
	start := time.Now()
	prog, err := waitNodesReady(ctx, r.cs, r.c, r.since, r.opts.Timeout, r.opts.Log)
	if err != nil {
		return notReadyError(ctx, r.nodes, r.c, prog, r.opts.Timeout)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	kubelets := r.started["node objects"]
	r.res.Links["kubelet registration"] = start.Sub(kubelets) + prog.registered
	r.res.Marks["kubelets registered"] = start.Sub(r.opts.Start) + prog.registered
	return nil
}

// waitDNS waits until the DNS check's pod resolved kubernetes.default.
func (r *run) waitDNS(ctx context.Context) error {
	return r.dns.wait(ctx)
}

// writeKubeconfig writes the admin's kubeconfig.
func (r *run) writeKubeconfig(context.Context) error {
	kc, err := r.bundle.AdminKubeconfig(r.c.Name, r.server)
	if err != nil {
		return err
	}
	if err := pki.WriteKubeconfig(r.kubeconfig, kc); err != nil {
		return err
	}
	r.res.Server, r.res.Kubeconfig, r.res.KubeconfigData = r.server, r.kubeconfig, kc
	return nil
}

// start converges components of a node once the images they run from are
// loaded, then waits until each is healthy.
func (r *run) start(ctx context.Context, n runtime.Node, names ...string) error {
	if err := r.converge(ctx, n, names...); err != nil {
		return err
	}
	return fanout.Each(names, func(_ int, name string) error { return r.healthy(ctx, n, name) })
}

// converge brings components of a node to the plan, in parallel, once
// the images they run from are loaded.
func (r *run) converge(ctx context.Context, n runtime.Node, names ...string) error {
	if err := r.waitImages(ctx, n, names...); err != nil {
		return err
	}
	r.mu.Lock()
	files := r.filesHash[n.Name]
	r.mu.Unlock()
	return fanout.Each(names, func(_ int, name string) error {
		comp, ok := component(n, name)
		if !ok {
			return fmt.Errorf("cluster %s node %s: no %s in the plan", r.c.Name, n.Name, name)
		}
		action, err := r.nodes[n.Name].Converge(ctx, comp, files)
		if err != nil {
			return fmt.Errorf("cluster %s node %s (container %s): %w", r.c.Name, n.Name, n.ContainerName, err)
		}
		r.opts.Log.Printf("[%s] node %s: %s %s", r.c.Name, n.Name, name, action)
		return nil
	})
}

// healthy waits until a component of a node answers its health check.
func (r *run) healthy(ctx context.Context, n runtime.Node, name string) error {
	comp, ok := component(n, name)
	if !ok {
		return fmt.Errorf("cluster %s node %s: no %s in the plan", r.c.Name, n.Name, name)
	}
	return waitHealthy(ctx, r, name, n, comp)
}

// waitImages waits until the node has loaded the images the components
// run from: the pause image (loaded first) or the runtime image (loaded
// last, after it).
func (r *run) waitImages(ctx context.Context, n runtime.Node, names ...string) error {
	static := false
	for _, name := range names {
		comp, ok := component(n, name)
		switch {
		case !ok:
		case comp.Image == r.c.Images.Runtime:
			return r.nodes[n.Name].Reached(ctx, dind.ImagesLoaded)
		case comp.Image == r.c.Probe.Image:
			static = true
		}
	}
	if static {
		return r.nodes[n.Name].Reached(ctx, dind.StaticImageLoaded)
	}
	return nil
}

// samePlan says whether the state holds this plan already.
func samePlan(have, want *runtime.Cluster) bool {
	if have == nil {
		return false
	}
	a, errA := jsonOf(have)
	b, errB := jsonOf(want)
	return errA == nil && errB == nil && bytes.Equal(a, b)
}
