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
)

func (a *App) stopCommand() *cli.Command {
	return &cli.Command{
		Name:      "stop",
		Usage:     "Stop clusters: every node, etcd members last; everything they keep stays",
		ArgsUsage: "NAME...",
		Description: "A stopped cluster stays stopped, through restarts of the engine too, until\n" +
			"docker rke start. Its data, loaded images and kubeconfig are kept.",
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cli.Exit("stop needs at least one cluster NAME (docker rke ls lists them)", 2)
			}
			log := newStepLog(a.Stderr)
			defer log.Spin()()
			engine := a.newEngine(log)
			defer engine.Close()
			return fanout.Each(c.Args().Slice(), func(_ int, name string) error {
				start := time.Now()
				// Every node stops its own components in order, but the
				// nodes stop at once: the API servers go first across
				// the cluster, while etcd keeps its quorum.
				if st, err := deploy.LoadState(c.Context, engine, name, anyImage()); err == nil && st.Plan != nil {
					nodes, err := runningNodes(c.Context, engine, name, false)
					if err == nil {
						err = deploy.StopAPIServers(c.Context, *st.Plan, nodes, deploy.StopOptions{Log: log, Certificates: st.Certificates})
					}
					if err != nil {
						return fmt.Errorf("cluster %s: stopping its API servers: %w", name, err)
					}
				}
				if err := engine.Stop(c.Context, name); err != nil {
					return err
				}
				log.Printf("[%s] stopped: done in %s", name, time.Since(start).Round(10*time.Millisecond))
				return nil
			})
		},
	}
}

func (a *App) startCommand() *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "Start stopped clusters, until every node is Ready and DNS answers",
		ArgsUsage: "NAME...",
		Description: "Starts every node of each cluster and waits until it serves as before. Nothing\n" +
			"is redeployed: each node's engine starts the components it ran.",
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "timeout", Value: 2 * time.Minute, Usage: "how long to wait for each step: node engines, an API server, every node Ready, DNS"},
			&cli.StringFlag{Name: "json-timings", Usage: "write each phase's duration to this file as JSON (for benchmarks)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cli.Exit("start needs at least one cluster NAME (docker rke ls lists them)", 2)
			}
			log := newStepLog(a.Stderr)
			defer log.Spin()()
			engine := a.newEngine(log)
			defer engine.Close()
			names := c.Args().Slice()
			timings := &upTimings{Clusters: map[string][]deploy.Phase{}}
			results := make([]string, len(names))
			phases := make([][]deploy.Phase, len(names))
			err := fanout.Each(names, func(i int, name string) (err error) {
				phases[i], results[i], err = a.startCluster(c.Context, engine, name, c.Duration("timeout"), log)
				return err
			})
			if err != nil {
				return err
			}
			log.Clear()
			for i, name := range names {
				timings.Clusters[name] = phases[i]
				if results[i] == "" {
					fmt.Fprintf(a.Stdout, "%s: nodes started (no control plane deployed)\n", name)
					continue
				}
				fmt.Fprintf(a.Stdout, "%s: every node Ready and DNS answering, API server %s\n", name, results[i])
			}
			timings.Total = time.Since(log.start)
			return timings.write(c.String("json-timings"))
		},
	}
}

// startCluster starts a cluster's nodes and waits until it serves. It
// returns the phases and the kubeconfig's API server ("" for a cluster
// without a control plane).
func (a *App) startCluster(ctx context.Context, engine *dind.Engine, name string, timeout time.Duration, log *stepLog) ([]deploy.Phase, string, error) {
	since := time.Now()
	statuses, err := engine.Start(ctx, name, timeout)
	if err != nil {
		return nil, "", err
	}
	var started []string
	for _, s := range statuses {
		if s.Action == dind.Started {
			started = append(started, s.Node)
		}
	}
	phases := []deploy.Phase{deploy.NewPhase("nodes", time.Since(since))}
	log.Printf("[%s] nodes: done in %s", name, time.Since(since).Round(10*time.Millisecond))
	st, err := deploy.LoadState(ctx, engine, name, anyImage())
	if err != nil {
		return nil, "", err
	}
	more, err := deploy.WaitReady(ctx, deployNodes(engine, statuses), st, deploy.ReadyOptions{Timeout: timeout, Log: log, Since: since, Started: started})
	switch {
	case errors.Is(err, deploy.ErrNotDeployed) && st.Certificates == nil:
		return phases, "", nil
	case errors.Is(err, deploy.ErrNotDeployed):
		return nil, "", fmt.Errorf("cluster %s: its nodes started, but its state has no plan to check them against (made by an older docker rke): run docker rke up with its definition once", name)
	case err != nil:
		return nil, "", err
	}
	return append(phases, more...), st.Server, nil
}
