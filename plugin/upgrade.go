package plugin

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/docker-rke/docker-rke/deploy"
	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/model"
	"github.com/docker-rke/docker-rke/runtime"
)

// An upgrade is RKE's: the definition names another Kubernetes release for
// a running cluster, and up carries the cluster there in place before it
// converges the plan as usual. For each such cluster: an etcd snapshot
// first, kept in its state; then node by node in deploy.UpgradeOrder
// (etcd members, controlplane nodes, workers), each node with the worker
// role drained first, replaced from the new release's node image with its
// data, its components deployed, every node Ready and DNS answering, and
// the node uncordoned, before the next. Each step carries out a plan that
// is the cluster as deployed with the nodes done so far taken from the new
// plan: nothing is decided twice, and a node that already runs the new
// release is passed over, so that an upgrade that stopped midway goes on
// from where it was at the next up. up's usual converge then finds those
// nodes as planned and finishes what is cluster-wide.

// upgrade is one cluster to carry to a new release.
type upgrade struct {
	want runtime.Cluster
	st   *deploy.State
	// from is the oldest release a node runs; pending are the nodes that
	// do not run want's yet.
	from    string
	pending map[string]bool
}

// plannedUpgrades finds the clusters of the plan whose running nodes are
// on another release than the plan's, and checks that each step is one
// Kubernetes supports (CheckUpgrade) before anything changes. A cluster
// whose control plane was never deployed has nothing to carry over: up
// replaces its nodes as any drift.
func (a *App) plannedUpgrades(c *cli.Context, engine *dind.Engine, plan *runtime.Plan) ([]upgrade, error) {
	clusters, err := engine.List(c.Context)
	if err != nil {
		return nil, err
	}
	var out []upgrade
	var problems []error
	for _, want := range plan.Clusters {
		i := slices.IndexFunc(clusters, func(ci dind.ClusterInfo) bool { return ci.Name == want.Name })
		if i < 0 {
			continue
		}
		u := upgrade{want: want, pending: map[string]bool{}}
		var versions []string
		for _, n := range clusters[i].NodeList {
			if n.KubernetesVersion == want.KubernetesVersion || n.KubernetesVersion == "" {
				continue
			}
			u.pending[n.Name] = true
			if !slices.Contains(versions, n.KubernetesVersion) {
				versions = append(versions, n.KubernetesVersion)
			}
		}
		if len(versions) == 0 {
			continue
		}
		for _, v := range versions {
			if err := deploy.CheckUpgrade(want.Name, v, want.KubernetesVersion); err != nil {
				problems = append(problems, err)
			}
		}
		// The releases the nodes run, oldest first; a node newer than the
		// plan's was refused above.
		u.from = strings.Fields(clusters[i].KubernetesVersion)[0]
		if u.st, err = deploy.LoadState(c.Context, engine, want.Name, anyImage()); err != nil {
			problems = append(problems, err)
			continue
		}
		if u.st.Plan == nil {
			continue
		}
		out = append(out, u)
	}
	return out, errors.Join(problems...)
}

// runUpgrade carries one cluster to its new release (see the top).
func (a *App) runUpgrade(c *cli.Context, engine *dind.Engine, u upgrade, log *stepLog) error {
	ctx, name := c.Context, u.want.Name
	if _, err := engine.RunningNodes(ctx, name, nil); err != nil {
		return fmt.Errorf("cluster %s: upgrading needs every node running: %w", name, err)
	}
	start := time.Now()
	log.Printf("[%s] upgrading from %s to %s, one node at a time", name, u.from, u.want.KubernetesVersion)
	if err := a.snapshotBeforeUpgrade(c, engine, u, log); err != nil {
		return err
	}
	cur := *u.st.Plan
	cur.Nodes = slices.Clone(cur.Nodes)
	order := deploy.UpgradeOrder(u.want)
	done := 0
	for _, n := range order {
		i := slices.IndexFunc(cur.Nodes, func(have runtime.Node) bool { return have.Name == n.Name })
		if i < 0 {
			continue // a node new to the cluster: up's converge adds it
		}
		if !u.pending[n.Name] {
			cur.Nodes[i] = n
			continue
		}
		if err := a.upgradeNode(c, engine, &cur, i, n, u.st, log); err != nil {
			return err
		}
		done++
		log.Printf("[%s] node %s: runs %s (%d of %d nodes upgraded)", name, n.Name, u.want.KubernetesVersion, done, len(u.pending))
	}
	log.Printf("[%s] upgraded to %s in %s", name, u.want.KubernetesVersion, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// upgradeNode drains a node with the worker role, puts the new release's
// node n in place of cur.Nodes[i] and converges cur: the node replaced
// with its data, its components deployed, every node Ready (the node
// made schedulable again then) and DNS answering.
func (a *App) upgradeNode(c *cli.Context, engine *dind.Engine, cur *runtime.Cluster, i int, n runtime.Node, st *deploy.State, log *stepLog) error {
	ctx, name := c.Context, cur.Name
	nodes, err := runningNodes(ctx, engine, name, true)
	if err != nil {
		return err
	}
	worker := n.HasRole(model.RoleWorker)
	if worker {
		log.Printf("[%s] node %s: draining", name, n.Name)
		if err := deploy.Drain(ctx, *cur, nodes, st, n.Name, deploy.DrainOptions{Avoid: n.Name, Timeout: c.Duration("timeout"), Log: log}); err != nil {
			return err
		}
	}
	log.Printf("[%s] node %s: replacing it with %s's node, its data kept", name, n.Name, n.KubernetesVersion)
	cur.Nodes[i] = n
	statuses, err := engine.Up(ctx, []runtime.Cluster{*cur}, dind.UpOptions{ReadyTimeout: c.Duration("timeout"), ModeCache: a.modeCache()})
	if err != nil {
		return fmt.Errorf("cluster %s node %s: upgrading: %w (up again goes on from this node)", name, n.Name, err)
	}
	_, err = deploy.Up(ctx, *cur, statuses, deploy.Env{Nodes: deployNodes(engine, statuses), Store: engine}, a.deployOptions(c, log))
	if err != nil {
		return fmt.Errorf("cluster %s node %s: upgrading: %w (up again goes on from this node)", name, n.Name, err)
	}
	return nil
}

// snapshotBeforeUpgrade keeps an etcd snapshot of the cluster as it was,
// named after the step (upgrade-v1.36.3-to-v1.37.2-<UTC time>).
func (a *App) snapshotBeforeUpgrade(c *cli.Context, engine *dind.Engine, u upgrade, log *stepLog) error {
	ctx, name := c.Context, u.want.Name
	nodes, err := runningNodes(ctx, engine, name, true)
	if err != nil {
		return err
	}
	snapName := fmt.Sprintf("upgrade-%s-to-%s-%s", u.from, u.want.KubernetesVersion, time.Now().UTC().Format("20060102T150405Z"))
	if _, _, err := keepSnapshot(ctx, engine, name, u.st, nodes, snapName); err != nil {
		return fmt.Errorf("cluster %s: the snapshot before upgrading: %w", name, err)
	}
	log.Printf("[%s] etcd snapshot %s kept: docker rke etcd snapshot restore --cluster %s %s goes back to it", name, snapName, name, snapName)
	return nil
}
