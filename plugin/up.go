package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/docker-rke/docker-rke/deploy"
	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/images"
	"github.com/docker-rke/docker-rke/images/builder"
	"github.com/docker-rke/docker-rke/internal/fanout"
	"github.com/docker-rke/docker-rke/pki"
	"github.com/docker-rke/docker-rke/runtime"
)

func (a *App) upCommand() *cli.Command {
	return &cli.Command{
		Name:      "up",
		Aliases:   []string{"create"},
		Usage:     "Create or converge the clusters of a definition",
		ArgsUsage: "FILE (a Go cluster script or an RKE cluster.yml)",
		Description: "Creates what is missing, starts what is stopped, replaces what drifted from the\n" +
			"definition and keeps the rest. If it fails, it removes what it created.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "nodes-only", Usage: "create the node containers and stop there (Kubernetes is not deployed)"},
			&cli.StringFlag{Name: "kubeconfig-dir", Value: ".", Usage: "where kube_config_<cluster>.yml is written"},
			&cli.StringFlag{Name: "json-timings", Usage: "write each phase's duration to this file as JSON (for benchmarks)"},
			&cli.BoolFlag{Name: "retain", Usage: "keep what a failed run created, for debugging"},
			&cli.StringFlag{Name: "node-image", Usage: "run every node from this image instead of the one the definition names"},
			&cli.DurationFlag{Name: "timeout", Value: 2 * time.Minute, Usage: "how long to wait for each step: node engines, components' health, every node Ready, DNS"},
			mergeFlag,
			noSwitchFlag,
			formatFlag(nodeFields),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("up needs exactly one FILE, e.g. docker rke up --nodes-only samples/cluster1.go", 2)
			}
			if err := checkFormat(c.String("format")); err != nil {
				return err
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
			// doctor's cheap part first: stop before anything with its
			// words.
			if err := preflightError(a.preflight(c.Context, plan)); err != nil {
				return err
			}
			log := newStepLog(a.Stderr)
			defer log.Spin()()
			if err := a.ensureImages(c, plan, log); err != nil {
				return err
			}
			engine := a.newEngine(log)
			defer engine.Close()
			upgrades, err := a.plannedUpgrades(c, engine, plan)
			if err != nil {
				return err
			}
			if len(upgrades) > 0 && c.Bool("nodes-only") {
				return cli.Exit(fmt.Sprintf("cluster %s runs Kubernetes %s and the definition names %s: an upgrade deploys Kubernetes node by node; run up without --nodes-only", upgrades[0].want.Name, upgrades[0].from, upgrades[0].want.KubernetesVersion), 2)
			}
			for _, u := range upgrades {
				if err := a.runUpgrade(c, engine, u, log); err != nil {
					return err
				}
			}
			timings := &upTimings{Clusters: map[string][]deploy.Phase{}, Critical: map[string]critical{}}
			nodesStart := time.Now()
			statuses, err := engine.Up(c.Context, plan.Clusters, dind.UpOptions{
				ReadyTimeout: c.Duration("timeout"),
				ModeCache:    a.modeCache(),
			})
			if err != nil {
				a.rollback(c, engine, clusterNames(plan.Clusters))
				return err
			}
			log.Clear()
			rows := make([]*nodeRow, len(statuses))
			for i, s := range statuses {
				rows[i] = &nodeRow{s: s}
			}
			if err := writeFormatted(a.Stdout, c.String("format"), nodeTable, "", false, nodeHeader(), rows); err != nil {
				return err
			}
			log.Printf("%d nodes: done in %s", len(statuses), time.Since(nodesStart).Round(10*time.Millisecond))
			for _, cl := range plan.Clusters {
				timings.Clusters[cl.Name] = []deploy.Phase{deploy.NewPhase("nodes", time.Since(nodesStart))}
			}
			if !c.Bool("nodes-only") {
				if err := a.deployControlPlanes(c, engine, plan, statuses, log, timings); err != nil {
					return err
				}
			}
			timings.Total = time.Since(log.start)
			return timings.write(c.String("json-timings"))
		},
	}
}

// ensureImages builds a release's images when a node runs the release's
// node image and the engine lacks it, as kind fetches its node image on
// first use. Other images must be on the engine already; Up says which node
// lacks one.
func (a *App) ensureImages(c *cli.Context, plan *runtime.Plan, log *stepLog) error {
	checked := map[string]bool{} // by Kubernetes version
	for _, cl := range plan.Clusters {
		if checked[cl.KubernetesVersion] {
			continue
		}
		rel, err := images.Lookup(cl.KubernetesVersion)
		if err != nil {
			return err
		}
		want := images.NodeImage(rel)
		if !usesImage(cl, want) {
			continue
		}
		checked[cl.KubernetesVersion] = true
		ok, err := builder.ImageExists(c.Context, a.Docker.Client(), want)
		if err != nil {
			return err
		}
		if ok {
			continue
		}
		if cl.ImageRegistry != "" {
			pinned, err := a.pullNodeImage(c.Context, cl.ImageRegistry, rel, log)
			if err != nil {
				return fmt.Errorf("cluster %s: %w", cl.Name, err)
			}
			if pinned != "" {
				log.Printf("node image %s pulled as %s and checked", want, pinned)
			}
			continue
		}
		log.Printf("node image %s is not built yet: building the %s images (once; the first build compiles Kubernetes and takes a while)", want, rel.Kubernetes)
		cacheDir, err := buildCacheDir()
		if err != nil {
			return err
		}
		if _, err := builder.New(a.Docker.Client(), log, builder.Options{CacheDir: cacheDir, ModeCache: a.modeCache()}).BuildRelease(c.Context, rel); err != nil {
			return err
		}
	}
	return nil
}

// usesImage reports whether a node of the cluster runs image.
func usesImage(cl runtime.Cluster, image string) bool {
	for _, n := range cl.Nodes {
		if n.Image == image {
			return true
		}
	}
	return false
}

func (a *App) rmCommand() *cli.Command {
	return &cli.Command{
		Name:      "rm",
		Aliases:   []string{"delete"},
		Usage:     "Remove clusters: their nodes, networks, volumes and state",
		ArgsUsage: "NAME... | --all",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Usage: "remove every cluster on the engine, with all their data"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 && !c.Bool("all") {
				return cli.Exit("rm needs at least one cluster NAME (docker rke ls lists them), or --all", 2)
			}
			if c.NArg() > 0 && c.Bool("all") {
				return cli.Exit("rm takes cluster NAMEs or --all, not both", 2)
			}
			engine := a.newEngine(newStepLog(a.Stderr))
			names := c.Args().Slice()
			if c.Bool("all") {
				clusters, err := engine.List(c.Context)
				if err != nil {
					return err
				}
				for _, cl := range clusters {
					names = append(names, cl.Name)
				}
			}
			var errs []error
			for _, name := range names {
				if err := removeCluster(c.Context, engine, name, anyImage()); err != nil {
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

// deployControlPlanes deploys every cluster's control plane in parallel
// and prints how to reach each.
func (a *App) deployControlPlanes(c *cli.Context, engine *dind.Engine, plan *runtime.Plan, statuses []dind.NodeStatus, log *stepLog, timings *upTimings) error {
	results := make([]*deploy.Result, len(plan.Clusters))
	errs := make([]error, len(plan.Clusters))
	err := fanout.Each(plan.Clusters, func(i int, cl runtime.Cluster) error {
		var nodes []dind.NodeStatus
		for _, s := range statuses {
			if s.Cluster == cl.Name {
				nodes = append(nodes, s)
			}
		}
		results[i], errs[i] = deploy.Up(c.Context, cl, nodes, deploy.Env{Nodes: deployNodes(engine, nodes), Store: engine}, a.deployOptions(c, log))
		return errs[i]
	})
	if err != nil {
		var failed []string
		for i, cl := range plan.Clusters {
			if errs[i] != nil {
				failed = append(failed, cl.Name)
			}
		}
		a.rollback(c, engine, failed)
		return err
	}
	log.Clear()
	for i, r := range results {
		name := plan.Clusters[i].Name
		timings.Clusters[name] = append(timings.Clusters[name], r.Phases...)
		timings.Critical[name] = criticalPath(timings.Clusters[name][0].Duration, r, time.Since(log.start))
		fmt.Fprintf(a.Stdout, "%s: every node Ready and DNS answering, API server %s\n  kubectl --kubeconfig %s get nodes\n", name, r.Server, r.Kubeconfig)
		if c.Bool("merge") {
			if err := a.mergeKubeconfig(c, engine, name, r.KubeconfigData); err != nil {
				return err
			}
		}
	}
	return nil
}

// deployOptions are how a command deploys: its --kubeconfig-dir and
// --timeout, the API server's published port where this machine cannot
// reach container addresses, its progress log.
func (a *App) deployOptions(c *cli.Context, log *stepLog) deploy.Options {
	return deploy.Options{
		KubeconfigDir: c.String("kubeconfig-dir"),
		Published:     !a.containerAddressesReachable(),
		Timeout:       c.Duration("timeout"),
		Log:           log,
		Start:         log.start,
	}
}

// deployNodes are the handles deploy reaches nodes through, by node name.
func deployNodes(engine *dind.Engine, statuses []dind.NodeStatus) map[string]deploy.Node {
	out := map[string]deploy.Node{}
	for _, s := range statuses {
		out[s.Node] = engine.Node(s)
	}
	return out
}

// removeCluster removes everything with the cluster's label and the
// kubeconfig up wrote for it (its path is in the state, which goes with
// the rest). image is any image on the engine, to read the state with.
func removeCluster(ctx context.Context, engine *dind.Engine, name, image string) error {
	st, err := deploy.LoadState(ctx, engine, name, image)
	if err != nil {
		st = &deploy.State{}
	}
	if err := engine.Remove(ctx, name); err != nil {
		return err
	}
	var errs []error
	var ca []byte
	if st.Certificates != nil {
		ca = st.Certificates[pki.CA].CertPEM
	}
	if st.Kubeconfig != "" {
		if _, err := pki.RemoveKubeconfig(st.Kubeconfig, name, ca); err != nil {
			errs = append(errs, fmt.Errorf("cluster %s: removing %s: %w", name, st.Kubeconfig, err))
		}
	}
	for _, file := range st.Merged {
		if err := pki.UnmergeKubeconfig(file, name, ca); err != nil {
			errs = append(errs, fmt.Errorf("cluster %s: taking context %s out of %s: %w", name, pki.ContextName(name), file, err))
		}
	}
	return errors.Join(errs...)
}

// rollback is up's one cleanup, whichever step failed: what this run
// created in the failed clusters goes (all of a cluster it created),
// unless --retain.
func (a *App) rollback(c *cli.Context, engine *dind.Engine, clusters []string) {
	if c.Bool("retain") {
		return
	}
	engine.Rollback(clusters...)
}

func clusterNames(clusters []runtime.Cluster) []string {
	out := make([]string, len(clusters))
	for i, cl := range clusters {
		out[i] = cl.Name
	}
	return out
}

// critical is the critical path of a cluster's up: the node engines
// booting, etcd, the first API server, kubelet registration, each measured
// inside the run, and the ratio of the whole up to their sum (what
// docker rke's own work adds).
type critical struct {
	Links   map[string]float64 `json:"links"`
	Seconds float64            `json:"seconds"`
	Ratio   float64            `json:"ratio"`
	// Marks are seconds from the command's start to each milestone.
	Marks map[string]float64 `json:"marks"`
}

func criticalPath(nodes time.Duration, r *deploy.Result, total time.Duration) critical {
	c := critical{Links: map[string]float64{"nodes": nodes.Seconds()}, Marks: map[string]float64{"nodes": nodes.Seconds()}}
	sum := nodes
	for k, d := range r.Links {
		c.Links[k] = d.Seconds()
		sum += d
	}
	for k, d := range r.Marks {
		c.Marks[k] = d.Seconds()
	}
	c.Seconds = sum.Seconds()
	// The cluster's own end (its DNS answering), when clusters came up
	// together.
	if end, ok := r.Marks["dns"]; ok {
		total = end
	}
	if sum > 0 {
		c.Ratio = total.Seconds() / sum.Seconds()
	}
	return c
}

// upTimings is what --json-timings writes: each cluster's phases, in
// order, and the whole command.
type upTimings struct {
	Clusters map[string][]deploy.Phase `json:"clusters"`
	// Critical is each cluster's critical path and milestones.
	Critical map[string]critical `json:"criticalPath"`
	Total    time.Duration       `json:"-"`
	Seconds  float64             `json:"totalSeconds"`
}

func (t *upTimings) write(path string) error {
	if path == "" {
		return nil
	}
	t.Seconds = t.Total.Seconds()
	data, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// containerAddressesReachable says whether this machine can route to the
// engine's container addresses: a Linux client of a local engine (unix
// socket) can; Docker Desktop on macOS and remote contexts cannot, and
// their kubeconfigs use the API server port published on 127.0.0.1.
func (a *App) containerAddressesReachable() bool {
	return goruntime.GOOS == "linux" && strings.HasPrefix(a.Docker.DockerEndpoint().Host, "unix://")
}
