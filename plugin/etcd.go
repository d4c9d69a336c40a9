package plugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	"github.com/urfave/cli/v2"

	"github.com/docker-rke/docker-rke/deploy"
	"github.com/docker-rke/docker-rke/dind"
)

// etcdCommand is RKE's `rke etcd snapshot-save / snapshot-restore`, with
// the snapshots kept in the cluster's state volume.
func (a *App) etcdCommand() *cli.Command {
	cluster := &cli.StringFlag{Name: "cluster", Aliases: []string{"c"}, Usage: "the cluster; default: the only one on the engine"}
	return &cli.Command{
		Name:  "etcd",
		Usage: "Save, list and restore etcd snapshots of a cluster",
		Subcommands: []*cli.Command{{
			Name:  "snapshot",
			Usage: "Save, list and restore etcd snapshots",
			Subcommands: []*cli.Command{
				{
					Name:      "save",
					Usage:     "Take a consistent snapshot of the cluster's etcd and keep it in the cluster's state",
					ArgsUsage: "NAME",
					Flags: []cli.Flag{cluster,
						&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "also write the snapshot to this file (mode 0600)"},
					},
					Action: a.snapshotSave,
				},
				{
					Name:   "ls",
					Usage:  "List the cluster's snapshots",
					Flags:  []cli.Flag{cluster},
					Action: a.snapshotList,
				},
				{
					Name:      "restore",
					Usage:     "Put every etcd member back to a snapshot, then wait until every node is Ready",
					ArgsUsage: "NAME|FILE",
					Description: "Every component of every node stops; each etcd member's data is rebuilt from the\n" +
						"snapshot (what it held is kept beside it, in " + "/var/lib/rancher/etcd.before-restore-<time>);\n" +
						"then the components start again and the command waits until the API answers,\n" +
						"every node is Ready and DNS answers. Objects made after the snapshot are gone.\n" +
						"A FILE must be a snapshot of this cluster (docker rke etcd snapshot save --output).",
					Flags: []cli.Flag{cluster,
						&cli.DurationFlag{Name: "timeout", Value: 3 * time.Minute, Usage: "how long to wait for each step: an API server, every node Ready, DNS"},
					},
					Action: a.snapshotRestore,
				},
			},
		}},
	}
}

// clusterTarget opens the engine and finds the deployed cluster a
// command (etcd snapshot, cert) is about, with its state.
func (a *App) clusterTarget(c *cli.Context, log *stepLog) (*dind.Engine, string, *deploy.State, error) {
	engine := a.newEngine(log)
	name := c.String("cluster")
	if name == "" {
		name = a.kubectlCluster()
	}
	if name == "" {
		clusters, err := engine.List(c.Context)
		if err != nil {
			engine.Close()
			return nil, "", nil, err
		}
		var names []string
		for _, cl := range clusters {
			names = append(names, cl.Name)
		}
		if len(names) != 1 {
			engine.Close()
			return nil, "", nil, cli.Exit(fmt.Sprintf("name the cluster with --cluster (the engine has %d: %s)", len(names), strings.Join(names, ", ")), 2)
		}
		name = names[0]
	}
	st, err := deploy.LoadState(c.Context, engine, name, anyImage())
	if err == nil && st.Plan == nil {
		err = fmt.Errorf("cluster %s: no control plane deployed (docker rke up brings it up), so no etcd", name)
	}
	if err != nil {
		engine.Close()
		return nil, "", nil, err
	}
	return engine, name, st, nil
}

// runningNodes are the deploy handles of a cluster's running nodes; with
// every set, a node that does not run is an error (engine.RunningNodes).
func runningNodes(ctx context.Context, engine *dind.Engine, cluster string, every bool) (map[string]deploy.Node, error) {
	var infos []dind.NodeInfo
	if every {
		var err error
		if infos, err = engine.RunningNodes(ctx, cluster, nil); err != nil {
			return nil, err
		}
	} else {
		clusters, err := engine.List(ctx)
		if err != nil {
			return nil, err
		}
		for _, cl := range clusters {
			if cl.Name == cluster {
				infos = slices.DeleteFunc(cl.NodeList, func(n dind.NodeInfo) bool { return n.State != "running" })
			}
		}
	}
	statuses := make([]dind.NodeStatus, len(infos))
	for i, n := range infos {
		statuses[i] = dind.NodeStatus{Cluster: cluster, Node: n.Name, Container: n.Container}
	}
	return deployNodes(engine, statuses), nil
}

func (a *App) snapshotSave(c *cli.Context) error {
	if c.NArg() != 1 {
		return cli.Exit("snapshot save needs a NAME, e.g. docker rke etcd snapshot save before-upgrade", 2)
	}
	name := c.Args().First()
	if err := deploy.CheckSnapshotName(name); err != nil {
		return cli.Exit(err.Error(), 2)
	}
	log := newStepLog(a.Stderr)
	defer log.Spin()()
	engine, cluster, st, err := a.clusterTarget(c, log)
	if err != nil {
		return err
	}
	defer engine.Close()
	if i := slices.IndexFunc(st.Snapshots, func(s deploy.Snapshot) bool { return s.Name == name }); i >= 0 {
		return cli.Exit(fmt.Sprintf("cluster %s already has a snapshot %s (taken %s): choose another name", cluster, name, st.Snapshots[i].Created.Format(time.RFC3339)), 2)
	}
	out := c.String("output")
	if out != "" {
		if _, err := os.Lstat(out); err == nil {
			return cli.Exit(fmt.Sprintf("%s exists: snapshot save never overwrites a file", out), 2)
		}
	}
	nodes, err := runningNodes(c.Context, engine, cluster, true)
	if err != nil {
		return err
	}
	start := time.Now()
	snap, data, err := keepSnapshot(c.Context, engine, cluster, st, nodes, name)
	if err != nil {
		return err
	}
	if out != "" {
		// O_EXCL: a file that appeared meanwhile is not overwritten either.
		f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, err = f.Write(data)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return fmt.Errorf("cluster %s: snapshot %s is kept in the cluster's state, but writing %s failed: %w", cluster, name, out, err)
		}
	}
	log.Clear()
	fmt.Fprintf(a.Stdout, "%s: snapshot %s from etcd member %s: revision %d, %d keys, %s, in %s\n",
		cluster, name, snap.Member, snap.Revision, snap.Keys, units.BytesSize(float64(snap.Size)), time.Since(start).Round(10*time.Millisecond))
	if out != "" {
		fmt.Fprintf(a.Stdout, "  also written to %s\n", out)
	}
	return nil
}

// keepSnapshot takes a consistent snapshot of a deployed cluster's etcd
// and keeps it in the cluster's state volume, recorded in st (saved).
func keepSnapshot(ctx context.Context, engine *dind.Engine, cluster string, st *deploy.State, nodes map[string]deploy.Node, name string) (deploy.Snapshot, []byte, error) {
	snap, data, err := deploy.SaveSnapshot(ctx, *st.Plan, nodes, name)
	if err != nil {
		return deploy.Snapshot{}, nil, err
	}
	if err := engine.SaveStateFile(ctx, cluster, anyImage(), deploy.SnapshotFile(name), data); err != nil {
		return deploy.Snapshot{}, nil, err
	}
	st.Snapshots = append(st.Snapshots, snap)
	return snap, data, deploy.SaveState(ctx, engine, cluster, anyImage(), st)
}

func (a *App) snapshotList(c *cli.Context) error {
	engine, cluster, st, err := a.clusterTarget(c, newStepLog(a.Stderr))
	if err != nil {
		return err
	}
	defer engine.Close()
	// The recurring ones, from every etcd node that runs: a stopped one
	// is left out, not an error.
	nodes, err := runningNodes(c.Context, engine, cluster, false)
	if err != nil {
		return err
	}
	recurring, err := deploy.NodeSnapshots(c.Context, *st.Plan, nodes)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(a.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tNAME\tCREATED\tMEMBER\tREVISION\tKEYS\tSIZE\tKEPT IN")
	for _, s := range st.Snapshots {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\tstate\n", cluster, s.Name, s.Created.Local().Format(time.DateTime), s.Member, s.Revision, s.Keys, units.BytesSize(float64(s.Size)))
	}
	for _, s := range recurring {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t-\t-\t%s\tnode %s\n", cluster, s.Name, s.Created.Local().Format(time.DateTime), s.Node, units.BytesSize(float64(s.Size)), s.Node)
	}
	return tw.Flush()
}

func (a *App) snapshotRestore(c *cli.Context) error {
	if c.NArg() != 1 {
		return cli.Exit("snapshot restore needs a snapshot NAME (docker rke etcd snapshot ls) or a FILE", 2)
	}
	arg := c.Args().First()
	log := newStepLog(a.Stderr)
	defer log.Spin()()
	engine, cluster, st, err := a.clusterTarget(c, log)
	if err != nil {
		return err
	}
	defer engine.Close()
	nodes, err := runningNodes(c.Context, engine, cluster, true)
	if err != nil {
		return err
	}
	data, what, err := snapshotData(c.Context, engine, cluster, st, nodes, arg)
	if err != nil {
		return err
	}
	if !deploy.SnapshotOfCluster(data, st) {
		return cli.Exit(fmt.Sprintf("%s is not a snapshot of cluster %s (it holds none of its objects: another cluster's?); nothing was changed", what, cluster), 1)
	}
	since := time.Now()
	log.Printf("[%s] restoring %s", cluster, what)
	err = deploy.RestoreSnapshot(c.Context, *st.Plan, nodes, data, deploy.RestoreOptions{Stamp: since.UTC().Format("20060102T150405Z"), Log: log})
	if err != nil {
		return err
	}
	var started []string
	for _, n := range st.Plan.Nodes {
		started = append(started, n.Name)
	}
	if _, err := deploy.WaitReady(c.Context, nodes, st, deploy.ReadyOptions{Timeout: c.Duration("timeout"), Log: log, Since: since, Started: started}); err != nil {
		return fmt.Errorf("cluster %s: restored from %s, but: %w", cluster, what, err)
	}
	log.Clear()
	fmt.Fprintf(a.Stdout, "%s: restored from %s in %s; every node Ready and DNS answering\n", cluster, what, time.Since(since).Round(100*time.Millisecond))
	return nil
}

// snapshotData is the snapshot a restore names: one kept in the state, a
// recurring one kept on an etcd node, or a file.
func snapshotData(ctx context.Context, engine *dind.Engine, cluster string, st *deploy.State, nodes map[string]deploy.Node, arg string) ([]byte, string, error) {
	if i := slices.IndexFunc(st.Snapshots, func(s deploy.Snapshot) bool { return s.Name == arg }); i >= 0 {
		data, err := engine.ReadStateFile(ctx, cluster, anyImage(), deploy.SnapshotFile(arg), deploy.MaxSnapshotSize)
		return data, "snapshot " + arg, err
	}
	recurring, err := deploy.NodeSnapshots(ctx, *st.Plan, nodes)
	if err != nil {
		return nil, "", err
	}
	if i := slices.IndexFunc(recurring, func(s deploy.NodeSnapshot) bool { return s.Name == arg }); i >= 0 {
		s := recurring[i]
		data, err := deploy.ReadNodeSnapshot(ctx, nodes[s.Node], s)
		return data, fmt.Sprintf("snapshot %s (kept on node %s)", arg, s.Node), err
	}
	fi, err := os.Stat(arg)
	if err != nil {
		var names []string
		for _, s := range st.Snapshots {
			names = append(names, s.Name)
		}
		for _, s := range recurring {
			names = append(names, s.Name)
		}
		known := "it has none"
		if len(names) > 0 {
			known = "it has " + strings.Join(names, ", ")
		}
		if errors.Is(err, os.ErrNotExist) {
			return nil, "", cli.Exit(fmt.Sprintf("cluster %s has no snapshot %s (%s), and there is no such file; nothing was changed", cluster, arg, known), 1)
		}
		return nil, "", err
	}
	if !fi.Mode().IsRegular() || fi.Size() > deploy.MaxSnapshotSize {
		return nil, "", cli.Exit(fmt.Sprintf("%s: want a snapshot file (a regular file of at most %s)", arg, units.BytesSize(deploy.MaxSnapshotSize)), 1)
	}
	data, err := os.ReadFile(arg)
	return data, "file " + arg, err
}
