package plugin

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/docker-rke/docker-rke/deploy"
	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/images"
)

func (a *App) kubeconfigCommand() *cli.Command {
	return &cli.Command{
		Name:      "kubeconfig",
		Usage:     "Print a cluster's admin kubeconfig, or merge it into your kubeconfig as context rke-NAME",
		ArgsUsage: "NAME",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "merge", Usage: "merge into the kubeconfig kubectl uses ($KUBECONFIG or ~/.kube/config) as context rke-NAME"},
			&cli.StringFlag{Name: "via", Usage: "how to reach the API server: address (the node's address) or published (127.0.0.1 on the engine's host); default: what up chose"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("kubeconfig needs one cluster NAME (docker rke ls lists them)", 2)
			}
			name := c.Args().First()
			rel, err := images.Lookup(images.DefaultKubernetesVersion())
			if err != nil {
				return err
			}
			engine := dind.NewEngine(a.Docker.Client(), newStepLog(a.Stderr))
			st, err := deploy.LoadState(c.Context, engine, name, images.NodeImage(rel))
			if err != nil {
				return err
			}
			if st.Server == "" || st.Certificates == nil {
				return fmt.Errorf("cluster %s: no control plane yet (docker rke up brings it up)", name)
			}
			server := st.Server
			if via := c.String("via"); via != "" {
				if server = st.Servers[via]; server == "" {
					return cli.Exit(fmt.Sprintf("--via %q: want address or published", via), 2)
				}
			}
			// The published port changes whenever the node restarts: ask
			// the engine for today's. (Node addresses are fixed.)
			if server == st.Servers["published"] && st.APIContainer != "" {
				port, err := engine.PublishedAPIPort(c.Context, st.APIContainer)
				if err != nil {
					return fmt.Errorf("cluster %s: %w", name, err)
				}
				server = "https://127.0.0.1:" + port
			}
			context := "rke-" + name
			data, err := st.Certificates.Kubeconfig(context, server, "kube-admin")
			if err != nil {
				return err
			}
			if !c.Bool("merge") {
				_, err := a.Stdout.Write(data)
				return err
			}
			return mergeKubeconfig(data, context)
		},
	}
}

// mergeKubeconfig adds the cluster, user and context to the kubeconfig
// kubectl uses, with clientcmd, replacing an older entry of the same name
// and making it current.
func mergeKubeconfig(data []byte, context string) error {
	add, err := clientcmd.Load(data)
	if err != nil {
		return err
	}
	opts := clientcmd.NewDefaultPathOptions()
	cfg, err := opts.GetStartingConfig()
	if err != nil {
		return fmt.Errorf("reading your kubeconfig: %w", err)
	}
	cluster, ok := add.Clusters[context]
	user, ok2 := add.AuthInfos["kube-admin"]
	if !ok || !ok2 {
		return errors.New("kubeconfig: incomplete")
	}
	cfg.Clusters[context] = cluster
	cfg.AuthInfos[context] = user
	ctx := add.Contexts[context]
	ctx.AuthInfo = context
	cfg.Contexts[context] = ctx
	cfg.CurrentContext = context
	if err := clientcmd.ModifyConfig(opts, *cfg, true); err != nil {
		return fmt.Errorf("writing your kubeconfig: %w", err)
	}
	return nil
}
