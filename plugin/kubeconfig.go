package plugin

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/docker-rke/docker-rke/deploy"
	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/images"
	"github.com/docker-rke/docker-rke/pki"
)

func (a *App) kubeconfigCommand() *cli.Command {
	return &cli.Command{
		Name:      "kubeconfig",
		Usage:     "Print a cluster's admin kubeconfig, or merge it into your kubeconfig as context rke-NAME",
		ArgsUsage: "NAME",
		Flags: []cli.Flag{
			mergeFlag,
			noSwitchFlag,
			&cli.StringFlag{Name: "via", Usage: "how to reach the API server: address (the node's address) or published (127.0.0.1 on the engine's host); default: what up chose"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("kubeconfig needs one cluster NAME (docker rke ls lists them)", 2)
			}
			name := c.Args().First()
			engine := a.newEngine(newStepLog(a.Stderr))
			data, _, err := a.adminKubeconfig(c.Context, engine, name, c.String("via"))
			if err != nil {
				return err
			}
			if !c.Bool("merge") {
				_, err := a.Stdout.Write(data)
				return err
			}
			return a.mergeKubeconfig(c, engine, name, data)
		},
	}
}

// adminKubeconfig is a cluster's admin kubeconfig, reaching its API server
// the way up chose or, with via, by "address" or "published", and the
// cluster's state. It warns when the admin certificate is about to expire.
func (a *App) adminKubeconfig(ctx context.Context, engine *dind.Engine, name, via string) ([]byte, *deploy.State, error) {
	st, err := deploy.LoadState(ctx, engine, name, anyImage())
	if err != nil {
		return nil, nil, err
	}
	if st.Server == "" || st.Certificates == nil {
		return nil, nil, fmt.Errorf("cluster %s: no control plane yet (docker rke up brings it up)", name)
	}
	server := st.Server
	if via != "" {
		if server = st.Servers[via]; server == "" {
			return nil, nil, cli.Exit(fmt.Sprintf("--via %q: want address or published", via), 2)
		}
	}
	// Clusters made before the port was fixed at a node's creation
	// publish it on a port the engine picks at every start: ask
	// the engine for today's. (Node addresses are fixed.)
	if server == st.Servers["published"] && st.APIContainer != "" {
		port, err := engine.PublishedAPIPort(ctx, st.APIContainer)
		if err != nil {
			return nil, nil, fmt.Errorf("cluster %s: %w", name, err)
		}
		server = "https://127.0.0.1:" + port
	}
	data, err := st.Certificates.AdminKubeconfig(name, server)
	if err != nil {
		return nil, nil, err
	}
	// The admin certificate lasts 90 days; up renews it.
	expires, err := st.Certificates.AdminExpires()
	switch {
	case err != nil:
		return nil, nil, fmt.Errorf("cluster %s: %w", name, err)
	case time.Now().After(expires):
		return nil, nil, fmt.Errorf("cluster %s: the admin certificate expired on %s: docker rke up with the cluster's definition renews it", name, expires.Format(time.DateOnly))
	case time.Until(expires) < 7*24*time.Hour:
		fmt.Fprintf(a.Stderr, "Warning: cluster %s: the admin certificate expires on %s: docker rke up with the cluster's definition renews it\n", name, expires.Format(time.DateOnly))
	}
	return data, st, nil
}

// The flags of up and kubeconfig that merge a cluster into kubectl's
// kubeconfig.
var (
	mergeFlag    = &cli.BoolFlag{Name: "merge", Usage: "merge into the kubeconfig kubectl uses ($KUBECONFIG or ~/.kube/config) as context rke-NAME, and switch to it"}
	noSwitchFlag = &cli.BoolFlag{Name: "no-switch", Usage: "with --merge: leave the current context as it is"}
)

// mergeKubeconfig merges a cluster's admin kubeconfig into kubectl's and
// records the file in the cluster's state, so rm takes the entries out.
func (a *App) mergeKubeconfig(c *cli.Context, engine *dind.Engine, cluster string, data []byte) error {
	file, err := pki.MergeKubeconfig(data, pki.MergeOptions{Switch: !c.Bool("no-switch")})
	if err != nil {
		return fmt.Errorf("cluster %s: %w", cluster, err)
	}
	st, err := deploy.LoadState(c.Context, engine, cluster, anyImage())
	if err != nil {
		return err
	}
	if !slices.Contains(st.Merged, file) {
		st.Merged = append(st.Merged, file)
		if err := deploy.SaveState(c.Context, engine, cluster, anyImage(), st); err != nil {
			return err
		}
	}
	switched := ""
	if !c.Bool("no-switch") {
		switched = ", now the current context"
	}
	fmt.Fprintf(a.Stderr, "cluster %s: context %s merged into %s%s\n", cluster, pki.ContextName(cluster), file, switched)
	return nil
}

// anyImage is an image that is on the engine wherever a cluster is (the
// default release's node image), for the short-lived containers that read
// and write a cluster's state volume.
func anyImage() string {
	rel, err := images.Lookup(images.DefaultKubernetesVersion())
	if err != nil {
		panic(err) // the default release is always in the catalogue
	}
	return images.NodeImage(rel)
}
