package dind

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/docker-rke/docker-rke/internal/fanout"
	"github.com/docker-rke/docker-rke/model"
)

// StopTimeout is how long a node gets to stop cleanly (docker rke stop,
// or the engine's own shutdown): its entrypoint stops the components in
// order, then the node's engine and containerd, in a few seconds. Past it
// the node is killed.
const StopTimeout = 30 * time.Second

// clusterNodes returns a cluster's node containers, or ErrNoCluster.
func (e *Engine) clusterNodes(ctx context.Context, cluster string) ([]container.Summary, error) {
	existing, err := e.clusterContainers(ctx, cluster)
	if err != nil {
		return nil, err
	}
	if len(existing) == 0 {
		return nil, fmt.Errorf("cluster %s: %w (docker rke ls lists the clusters)", cluster, ErrNoCluster)
	}
	out := make([]container.Summary, 0, len(existing))
	for _, c := range existing {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b container.Summary) int { return strings.Compare(a.Labels[LabelNode], b.Labels[LabelNode]) })
	return out, nil
}

func hasRole(c container.Summary, r model.Role) bool {
	return slices.Contains(strings.Split(c.Labels[LabelRoles], ","), string(r))
}

// Stop stops every node of a cluster, cleanly: the nodes without etcd
// first, all at once, then the etcd members, so that no API server loses
// its etcd while it still serves. Each node stops its own components in
// order (entrypoint.sh), etcd last. A stopped node stays stopped, through
// engine restarts too (the nodes' restart policy is unless-stopped),
// until Start.
func (e *Engine) Stop(ctx context.Context, cluster string) error {
	nodes, err := e.clusterNodes(ctx, cluster)
	if err != nil {
		return err
	}
	var first, last []container.Summary
	for _, n := range nodes {
		if hasRole(n, model.RoleEtcd) {
			last = append(last, n)
		} else {
			first = append(first, n)
		}
	}
	for _, group := range [][]container.Summary{first, last} {
		if err := fanout.Each(group, func(_ int, n container.Summary) error { return e.stopNode(ctx, cluster, n) }); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) stopNode(ctx context.Context, cluster string, n container.Summary) error {
	name := strings.TrimPrefix(firstName(n.Names), "/")
	if n.State != "running" && n.State != "restarting" {
		e.log.Printf("[%s] node %s: already %s", cluster, n.Labels[LabelNode], n.State)
		return nil
	}
	start := time.Now()
	timeout := int(StopTimeout.Seconds())
	if err := e.api.ContainerStop(ctx, name, container.StopOptions{Timeout: &timeout}); err != nil {
		return fmt.Errorf("cluster %s node %s (container %s): stop: %w", cluster, n.Labels[LabelNode], name, err)
	}
	e.forget(name)
	e.log.Printf("[%s] node %s: stopped in %s", cluster, n.Labels[LabelNode], time.Since(start).Round(10*time.Millisecond))
	return nil
}

// Start starts every stopped node of a cluster at once (etcd members
// need each other for a quorum) and returns when every node's engine
// answers. The nodes' engines start the components as they were: start
// redeploys nothing.
func (e *Engine) Start(ctx context.Context, cluster string, timeout time.Duration) ([]NodeStatus, error) {
	nodes, err := e.clusterNodes(ctx, cluster)
	if err != nil {
		return nil, err
	}
	statuses := make([]NodeStatus, len(nodes))
	err = fanout.Each(nodes, func(i int, n container.Summary) error {
		name := strings.TrimPrefix(firstName(n.Names), "/")
		node := n.Labels[LabelNode]
		action := Kept
		if n.State != "running" {
			if err := e.api.ContainerStart(ctx, name, container.StartOptions{}); err != nil {
				return fmt.Errorf("cluster %s node %s (container %s): start: %w", cluster, node, name, err)
			}
			action = Started
		}
		if err := e.waitReady(ctx, cluster, node, name, timeout); err != nil {
			return fmt.Errorf("cluster %s node %s (container %s): %w", cluster, node, name, err)
		}
		statuses[i] = NodeStatus{Cluster: cluster, Node: node, Container: name, Roles: strings.Split(n.Labels[LabelRoles], ","), Action: action, Mode: Mode(n.Labels[LabelMode])}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range statuses {
		net := ""
		for name := range nodes[i].NetworkSettings.Networks {
			net = name
		}
		addr, port, err := e.address(ctx, statuses[i].Container, net)
		if err != nil {
			return nil, err
		}
		statuses[i].Address, statuses[i].APIPort = addr, port
	}
	return statuses, nil
}
