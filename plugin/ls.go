package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"text/template"
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
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: `"table", "json", or a Go template such as '{{.Name}} {{.Nodes}}'`},
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
			format := c.String("format")
			if c.Bool("quiet") {
				format = "{{.Name}}"
			}
			switch format {
			case "table":
				tw := tabwriter.NewWriter(a.Stdout, 0, 8, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tNODES\tREADY\tROLES\tSTATE\tKUBERNETES\tAGE")
				for _, cl := range clusters {
					ready := "-"
					if cl.ReadyKnown {
						ready = fmt.Sprintf("%d/%d", cl.Ready, cl.Nodes)
					}
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", cl.Name, cl.Nodes, ready, cl.Roles, cl.State, cl.KubernetesVersion, age(time.Since(cl.Created)))
				}
				return tw.Flush()
			case "json":
				enc := json.NewEncoder(a.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(clusters)
			}
			tmpl, err := template.New("format").Funcs(template.FuncMap{
				"json": func(v any) (string, error) { b, err := json.Marshal(v); return string(b), err },
				"join": strings.Join,
			}).Parse(format)
			if err != nil {
				return cli.Exit(fmt.Sprintf("--format: %v", err), 2)
			}
			for _, cl := range clusters {
				if err := tmpl.Execute(a.Stdout, cl); err != nil {
					return fmt.Errorf("--format: %w", err)
				}
				fmt.Fprintln(a.Stdout)
			}
			return nil
		},
	}
}

// age prints a duration the way docker ps does, roughly.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
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
