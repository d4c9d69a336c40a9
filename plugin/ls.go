package plugin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/docker-rke/docker-rke/deploy"
	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/internal/fanout"
	"github.com/docker-rke/docker-rke/model"
)

func (a *App) lsCommand() *cli.Command {
	return &cli.Command{
		Name:    "ls",
		Aliases: []string{"list"},
		Usage:   "List the clusters on the engine",
		Flags: []cli.Flag{
			formatFlag(clusterFields),
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only print cluster names"},
		},
		Action: func(c *cli.Context) error {
			engine := a.newEngine(newStepLog(a.Stderr))
			defer engine.Close()
			clusters, err := engine.List(c.Context)
			if err != nil {
				return err
			}
			_ = fanout.Each(clusters, func(i int, _ dind.ClusterInfo) error {
				a.checkReady(c.Context, engine, &clusters[i])
				return nil
			})
			rows := make([]*clusterRow, len(clusters))
			for i, cl := range clusters {
				rows[i] = &clusterRow{c: cl}
			}
			return writeFormatted(a.Stdout, c.String("format"), clusterTable, "{{.Name}}", c.Bool("quiet"), clusterHeader(), rows)
		},
	}
}

// readyTimeout bounds ls's question to a cluster's API server.
const readyTimeout = 5 * time.Second

// checkReady asks a running cluster's API server which nodes are Ready,
// through one of its running controlplane nodes, and sets the cluster's
// state: running when every node runs and is Ready, stopped when none
// runs, degraded otherwise, with what is missing.
func (a *App) checkReady(ctx context.Context, engine *dind.Engine, cl *dind.ClusterInfo) {
	if cl.Running == 0 {
		return
	}
	st, err := deploy.LoadState(ctx, engine, cl.Name, anyImage())
	if err != nil || st.Plan == nil {
		return // no control plane (--nodes-only): the containers say it all
	}
	running := map[string]bool{}
	for _, n := range cl.NodeList {
		running[n.Container] = n.State == "running"
	}
	var ready map[string]bool
	err = errNoAPI
	for _, n := range st.Plan.Nodes {
		if running[n.ContainerName] && n.HasRole(model.RoleControlPlane) {
			via := engine.Node(dind.NodeStatus{Node: n.Name, Container: n.ContainerName})
			if ready, err = deploy.ReadyNodes(ctx, via, st, readyTimeout); err == nil {
				break
			}
		}
	}
	cl.State = clusterState(cl, ready, err)
}

var errNoAPI = errors.New("no controlplane node runs")

// clusterState is the STATE of ls, from the nodes' containers and what
// the API server says of their Nodes (err when it did not answer).
func clusterState(cl *dind.ClusterInfo, ready map[string]bool, err error) string {
	if err != nil {
		return fmt.Sprintf("degraded (%d/%d running, API not answering)", cl.Running, cl.Nodes)
	}
	cl.ReadyKnown = true
	cl.Ready = 0
	for _, n := range cl.NodeList {
		if n.State == "running" && ready[n.Name] {
			cl.Ready++
		}
	}
	switch {
	case cl.Ready == cl.Nodes:
		return "running"
	case cl.Running < cl.Nodes:
		return fmt.Sprintf("degraded (%d/%d running, %d Ready)", cl.Running, cl.Nodes, cl.Ready)
	default:
		return fmt.Sprintf("degraded (%d/%d Ready)", cl.Ready, cl.Nodes)
	}
}
