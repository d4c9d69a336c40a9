package plugin

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/urfave/cli/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/docker-rke/docker-rke/conformance"
	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/images"
)

func (a *App) conformanceCommand() *cli.Command {
	return &cli.Command{
		Name:      "conformance",
		Usage:     "Run the upstream Kubernetes conformance suite against a cluster, air-gapped",
		ArgsUsage: "NAME",
		Description: "Runs the [Conformance] specs of the cluster's release that may run in parallel (--serial:\n" +
			"the serial ones; --smoke: about twenty of them, in minutes) from the release's own\n" +
			"e2e.test, in a container on the engine, with the images its specs run built here\n" +
			"(docker rke images build --e2e) and loaded into every node first. The JUnit report,\n" +
			"the suite's log and summary.json go to --report-dir. Exit status 1 if a spec failed.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "smoke", Usage: "only the smoke subset make test runs (about 20 specs)"},
			&cli.BoolFlag{Name: "serial", Usage: "the [Serial] conformance specs, one at a time, instead of the others"},
			&cli.StringFlag{Name: "focus", Usage: "only the specs whose names this regular expression matches (ginkgo's --focus)"},
			&cli.IntFlag{Name: "procs", Value: 4, Usage: "suite processes running specs side by side (most specs wait on the cluster, not the CPU)"},
			&cli.StringFlag{Name: "report-dir", Usage: "where the report goes (default: conformance-NAME)"},
			&cli.DurationFlag{Name: "timeout", Value: 3 * time.Hour, Usage: "bounds the whole suite"},
		},
		Action: func(c *cli.Context) error {
			name := c.Args().First()
			if name == "" {
				name = a.kubectlCluster()
			}
			if c.NArg() > 1 || name == "" {
				return cli.Exit("conformance needs one cluster NAME (docker rke ls lists them)", 2)
			}
			if c.Bool("smoke") && (c.Bool("serial") || c.IsSet("focus")) {
				return cli.Exit("conformance: --smoke picks its own specs; leave out --serial and --focus", 2)
			}
			if _, err := regexp.Compile(c.String("focus")); err != nil {
				return cli.Exit(fmt.Sprintf("conformance --focus: %v", err), 2)
			}
			log := newStepLog(a.Stderr)
			engine := a.newEngine(log)
			defer engine.Close()
			opts, err := a.conformanceOptions(c, engine, name)
			if err != nil {
				return err
			}
			log.Printf("[%s] conformance: %s, %s; report in %s", name, describeSpecs(opts), conformance.Processes(opts.Procs), opts.ReportDir)
			sum, err := conformance.Run(c.Context, a.Docker.Client(), opts)
			if sum != nil {
				fmt.Fprintf(a.Stdout, "%s: %s\n", name, sum)
			}
			return err
		},
	}
}

// conformanceOptions gathers what a run against a cluster needs and puts
// the release's suite images into every node.
func (a *App) conformanceOptions(c *cli.Context, engine *dind.Engine, name string) (conformance.Options, error) {
	kubeconfig, st, err := a.adminKubeconfig(c.Context, engine, name, "published")
	if err != nil {
		return conformance.Options{}, err
	}
	if st.Plan == nil {
		return conformance.Options{}, fmt.Errorf("cluster %s: no plan on record (docker rke up brings it up)", name)
	}
	for _, n := range st.Plan.Nodes {
		if n.KubernetesVersion != "" && n.KubernetesVersion != st.Plan.KubernetesVersion {
			return conformance.Options{}, fmt.Errorf("cluster %s: node %s runs %s, the cluster %s: finish the upgrade (docker rke up) first", name, n.Name, n.KubernetesVersion, st.Plan.KubernetesVersion)
		}
	}
	rel, err := images.Lookup(st.Plan.KubernetesVersion)
	if err != nil {
		return conformance.Options{}, err
	}
	if err := a.loadSuiteImages(c.Context, engine, name, rel); err != nil {
		return conformance.Options{}, err
	}
	taints, err := nodeTaints(c.Context, kubeconfig)
	if err != nil {
		return conformance.Options{}, fmt.Errorf("cluster %s: %w", name, err)
	}
	opts := conformance.Options{
		Cluster: name, Release: rel, Kubeconfig: kubeconfig, ClusterDomain: st.Plan.ClusterDomain,
		NonBlockingTaints: taints, LabelFilter: conformance.Parallel, Procs: c.Int("procs"),
		Timeout: c.Duration("timeout"), ReportDir: c.String("report-dir"), Output: a.Stdout,
	}
	opts.FocusRegexp = c.String("focus")
	switch {
	case c.Bool("serial"):
		opts.LabelFilter, opts.Procs = conformance.Serial, 1
	case c.Bool("smoke"):
		opts.Focus = images.SmokeSpecs()
	}
	if opts.ReportDir == "" {
		opts.ReportDir = "conformance-" + name
	}
	return opts, nil
}

// loadSuiteImages loads the release's suite images into every node of
// the cluster (a node that has them already is skipped).
func (a *App) loadSuiteImages(ctx context.Context, engine *dind.Engine, cluster string, rel images.Release) error {
	list, err := a.Docker.Client().ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("reference", images.SuiteRegistry(rel)+"/*"))})
	if err != nil {
		return fmt.Errorf("listing the suite's images: %w", err)
	}
	var refs []string
	for _, img := range list {
		refs = append(refs, img.RepoTags...)
	}
	if len(refs) == 0 {
		return fmt.Errorf("cluster %s: the conformance suite of %s is not built: docker rke images build --e2e --kubernetes-version %s", cluster, rel.Kubernetes, rel.Kubernetes)
	}
	slices.Sort(refs)
	src, err := engine.EngineImages(ctx, refs)
	if err != nil {
		return err
	}
	_, err = engine.Load(ctx, dind.LoadOptions{Cluster: cluster, Source: src})
	return err
}

// nodeTaints are the keys of the taints that keep pods off nodes of the
// cluster (RKE's controlplane and etcd roles): the suite must not wait
// for those nodes to take pods.
func nodeTaints(ctx context.Context, kubeconfig []byte) ([]string, error) {
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	var keys []string
	for _, n := range nodes.Items {
		for _, t := range n.Spec.Taints {
			// node.kubernetes.io/ taints say a node is unwell: those
			// the suite must see.
			if t.Effect != corev1.TaintEffectPreferNoSchedule && !strings.HasPrefix(t.Key, "node.kubernetes.io/") && !slices.Contains(keys, t.Key) {
				keys = append(keys, t.Key)
			}
		}
	}
	slices.Sort(keys)
	return keys, nil
}

// describeSpecs says which specs a run takes.
func describeSpecs(opts conformance.Options) string {
	what := "specs labelled " + opts.LabelFilter
	if len(opts.Focus) > 0 {
		what = fmt.Sprintf("the %d smoke specs", len(opts.Focus))
	}
	if opts.FocusRegexp != "" {
		what += " matching " + opts.FocusRegexp
	}
	return what
}
