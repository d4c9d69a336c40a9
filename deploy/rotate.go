package deploy

import (
	"context"
	"time"

	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/model"
	"github.com/docker-rke/docker-rke/runtime"
)

// Rotate renews certificates of a deployed cluster (opts.Renew), RKE's
// cert rotate, and brings the components onto them. With the CAs kept,
// the nodes take their new files one at a time, etcd members first, then
// the controlplane nodes, then the rest, each node's components replaced
// and healthy before the next node's: an HA cluster keeps its etcd quorum
// and an API server answering throughout. With new CAs (caRotated), no
// old and new component could talk to each other, so every component is
// replaced as up deploys, all at once. Either way the admin's kubeconfig
// is written again.
func Rotate(ctx context.Context, c runtime.Cluster, nodes []dind.NodeStatus, env Env, opts Options, caRotated bool) (*Result, error) {
	if opts.Timeout == 0 {
		opts.Timeout = 3 * time.Minute
	}
	if opts.Start.IsZero() {
		opts.Start = time.Now()
	}
	if caRotated {
		return Up(ctx, c, nodes, env, opts)
	}
	r, err := newRun(ctx, c, nodes, env, opts)
	if err != nil {
		return nil, err
	}
	if err := runSteps(ctx, r, rotateSteps(), r.stepStarted, r.stepDone); err != nil {
		return nil, err
	}
	return r.res, nil
}

func rotateSteps() []step {
	return []step{
		{name: "state", do: (*run).saveState},
		{name: "certificates", phase: "certificates", do: (*run).installFiles},
		{name: "nodes", after: []string{"certificates", "state"}, phase: "nodes one by one", do: (*run).rollNodes},
		{name: "nodes ready", after: []string{"nodes"}, phase: "nodes ready", do: (*run).waitNodesReady},
		{name: "kubeconfig", after: []string{"nodes"}, do: (*run).writeKubeconfig},
	}
}

// rollNodes replaces each node's components in turn (rollingOrder), each
// node's all healthy before the next; it then reaches the cluster through
// the first controlplane node.
func (r *run) rollNodes(ctx context.Context) error {
	for _, n := range rollingOrder(r.c) {
		var names []string
		for _, comp := range n.Components {
			names = append(names, comp.Name)
		}
		r.mu.Lock()
		r.since[n.Name] = time.Now()
		r.mu.Unlock()
		if err := r.start(ctx, n, names...); err != nil {
			return err
		}
		r.opts.Log.Printf("[%s] node %s: every component on its new certificates", r.c.Name, n.Name)
	}
	cp := nodesWith(r.c, model.RoleControlPlane)[0]
	cs, dyn, err := kubeClients(r.nodes[cp.Name], r.bundle)
	if err != nil {
		return err
	}
	r.apiNode, r.cs, r.dyn = cp, cs, dyn
	return nil
}

// rollingOrder is the order nodes take new certificates in: etcd members,
// then controlplane nodes, then the others, each group in the plan's
// order.
func rollingOrder(c runtime.Cluster) []runtime.Node {
	var out []runtime.Node
	seen := map[string]bool{}
	for _, group := range [][]runtime.Node{nodesWith(c, model.RoleEtcd), nodesWith(c, model.RoleControlPlane), c.Nodes} {
		for _, n := range group {
			if !seen[n.Name] {
				seen[n.Name] = true
				out = append(out, n)
			}
		}
	}
	return out
}
