package plugin

import (
	"errors"
	"fmt"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/images"
	"github.com/docker-rke/docker-rke/images/builder"
	"github.com/docker-rke/docker-rke/images/node"
	"github.com/docker-rke/docker-rke/runtime"
)

func (a *App) upCommand() *cli.Command {
	return &cli.Command{
		Name:      "up",
		Usage:     "Create or converge the clusters of a definition",
		ArgsUsage: "FILE (a Go cluster script or an RKE cluster.yml)",
		Description: "Creates what is missing, starts what is stopped, replaces what drifted from the\n" +
			"definition and keeps the rest. If it fails, it removes what it created.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "nodes-only", Usage: "create the node containers and stop there (Kubernetes is not deployed)"},
			&cli.BoolFlag{Name: "retain", Usage: "keep what a failed run created, for debugging"},
			&cli.StringFlag{Name: "node-image", Usage: "run every node from this image instead of the one the definition names"},
			&cli.DurationFlag{Name: "timeout", Value: 2 * time.Minute, Usage: "how long to wait for each node's engine"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("up needs exactly one FILE, e.g. docker rke up --nodes-only samples/cluster1.go", 2)
			}
			if !c.Bool("nodes-only") {
				return cli.Exit("deploying Kubernetes into the nodes is not available yet: use --nodes-only to create the nodes", 2)
			}
			plan, err := a.loadPlan(c, c.Args().First())
			if err != nil {
				return err
			}
			if img := c.String("node-image"); img != "" {
				for i := range plan.Clusters {
					plan.Clusters[i].NodeImage = img
					for j := range plan.Clusters[i].Nodes {
						plan.Clusters[i].Nodes[j].Image = img
					}
				}
			}
			log := newStepLog(a.Stderr)
			if err := a.ensureImages(c, plan, log); err != nil {
				return err
			}
			engine := dind.NewEngine(a.Docker.Client(), log)
			statuses, err := engine.Up(c.Context, plan.Clusters, dind.UpOptions{
				Retain:       c.Bool("retain"),
				ReadyTimeout: c.Duration("timeout"),
				ModeCache:    newFileModeCache(filepath.Dir(a.Docker.ConfigFile().Filename)),
			})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.Stdout, 0, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "CLUSTER\tNODE\tROLES\tADDRESS\tCONTAINER\tACTION")
			for _, s := range statuses {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Cluster, s.Node, joinStrings(s.Roles), s.Address, s.Container, s.Action)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			log.Printf("%d nodes ready", len(statuses))
			return nil
		},
	}
}

// ensureImages builds a release's images when a node runs the release's
// node image and the engine lacks it, as kind fetches its node image on
// first use. Other images must be on the engine already; Up says which node
// lacks one.
func (a *App) ensureImages(c *cli.Context, plan *runtime.Plan, log *stepLog) error {
	done := map[string]bool{}
	for _, cl := range plan.Clusters {
		rel, err := images.Lookup(cl.KubernetesVersion)
		if err != nil {
			return err
		}
		want := images.NodeImage(rel)
		for _, n := range cl.Nodes {
			if n.Image != want || done[want] {
				continue
			}
			done[want] = true
			ok, err := node.Exists(c.Context, a.Docker.Client(), want)
			if err != nil || ok {
				if err != nil {
					return err
				}
				continue
			}
			log.Printf("node image %s is not built yet: building the %s images (once; the first build compiles Kubernetes and takes a while)", want, rel.Kubernetes)
			cacheDir, err := buildCacheDir()
			if err != nil {
				return err
			}
			if _, err := builder.New(a.Docker.Client(), log, cacheDir).BuildRelease(c.Context, rel); err != nil {
				return err
			}
		}
	}
	return nil
}

func joinStrings(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

func (a *App) rmCommand() *cli.Command {
	return &cli.Command{
		Name:      "rm",
		Usage:     "Remove clusters: their nodes, networks, volumes and state",
		ArgsUsage: "NAME...",
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cli.Exit("rm needs at least one cluster NAME (docker rke ls lists them)", 2)
			}
			engine := dind.NewEngine(a.Docker.Client(), newStepLog(a.Stderr))
			var errs []error
			for _, name := range c.Args().Slice() {
				if err := engine.Remove(c.Context, name); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(a.Stdout, name)
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			return nil
		},
	}
}
