package plugin

import (
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	"github.com/urfave/cli/v2"

	"github.com/docker-rke/docker-rke/deploy"
	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/pki"
	"github.com/docker-rke/docker-rke/runtime"
)

// certCommand is RKE's cert commands: rotate, and ls.
func (a *App) certCommand() *cli.Command {
	return &cli.Command{
		Name:  "cert",
		Usage: "Rotate and list a cluster's certificates",
		Subcommands: []*cli.Command{a.certRotateCommand(), {
			Name:  "ls",
			Usage: "List every certificate of the cluster: subject, issuer, names and expiry",
			Flags: []cli.Flag{&cli.StringFlag{Name: "cluster", Aliases: []string{"c"}, Usage: "the cluster; default: the only one on the engine"}},
			Action: func(c *cli.Context) error {
				engine, cluster, st, err := a.clusterTarget(c, newStepLog(a.Stderr))
				if err != nil {
					return err
				}
				defer engine.Close()
				infos, err := st.Certificates.Describe()
				if err != nil {
					return fmt.Errorf("cluster %s: %w", cluster, err)
				}
				tw := tabwriter.NewWriter(a.Stdout, 0, 8, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tSUBJECT\tISSUER\tEXPIRES\tSANS")
				now := time.Now()
				for _, i := range infos {
					left := "expired"
					if i.NotAfter.After(now) {
						left = "in " + units.HumanDuration(i.NotAfter.Sub(now))
					}
					sans := strings.Join(i.SANs, ",")
					if sans == "" {
						sans = "-"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s (%s)\t%s\n", i.Name, i.Subject, i.Issuer, i.NotAfter.Local().Format(time.DateOnly), left, sans)
				}
				return tw.Flush()
			},
		}},
	}
}

func (a *App) certRotateCommand() *cli.Command {
	return &cli.Command{
		Name:  "rotate",
		Usage: "Renew certificates and bring the components onto them",
		Description: "Renews the certificates of the named services (--service, repeatable: " + strings.Join(pki.RotatableServices(), ", ") + ";\n" +
			"default: all) and replaces the components that read them, one node at a time (etcd\n" +
			"members, then controlplane nodes, then the rest), so that an HA cluster keeps\n" +
			"answering. --ca renews the certificate authorities and with them every certificate;\n" +
			"every component is then replaced at once, as no old and new one can talk. The admin\n" +
			"kubeconfig is written again; the service-account key is kept.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "cluster", Aliases: []string{"c"}, Usage: "the cluster; default: the only one on the engine"},
			&cli.StringSliceFlag{Name: "service", Aliases: []string{"s"}, Usage: "renew this service's certificates (repeat for more); default: all"},
			&cli.BoolFlag{Name: "ca", Usage: "also renew the certificate authorities, and so every certificate"},
			&cli.DurationFlag{Name: "timeout", Value: 2 * time.Minute, Usage: "how long to wait for each component's health and every node Ready"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return cli.Exit("cert rotate takes no arguments: name the cluster with --cluster", 2)
			}
			log := newStepLog(a.Stderr)
			defer log.Spin()()
			engine, cluster, st, err := a.clusterTarget(c, log)
			if err != nil {
				return err
			}
			defer engine.Close()
			renew, err := st.Certificates.ToRotate(c.StringSlice("service"), c.Bool("ca"))
			if err != nil {
				return cli.Exit(err.Error(), 2)
			}
			if c.Bool("ca") {
				// Snapshots made under the CA being replaced stay the
				// cluster's (restore checks them against it).
				st.FormerCAs = append(st.FormerCAs, string(st.Certificates[pki.CA].CertPEM))
				if err := deploy.SaveState(c.Context, engine, cluster, anyImage(), st); err != nil {
					return err
				}
			}
			// The nodes as up reports them (addresses, published ports):
			// kept as they are, since the plan is the one they run.
			statuses, err := engine.Up(c.Context, []runtime.Cluster{*st.Plan}, dind.UpOptions{ReadyTimeout: c.Duration("timeout"), ModeCache: a.modeCache()})
			if err != nil {
				return err
			}
			dir := "."
			if st.Kubeconfig != "" {
				dir = filepath.Dir(st.Kubeconfig)
			}
			log.Printf("[%s] renewing %d certificates", cluster, len(renew))
			opts := a.deployOptions(c, log)
			opts.KubeconfigDir, opts.Renew = dir, renew
			res, err := deploy.Rotate(c.Context, *st.Plan, statuses, deploy.Env{Nodes: deployNodes(engine, statuses), Store: engine}, opts, c.Bool("ca"))
			if err != nil {
				return fmt.Errorf("cluster %s: rotating certificates: %w", cluster, err)
			}
			log.Clear()
			if c.Bool("ca") {
				// The contexts merged into users' kubeconfigs name the
				// old CA and the admin's old certificate: write them
				// again where they are, as up --merge would, leaving
				// each file's current context as it is.
				for _, file := range st.Merged {
					if _, err := pki.MergeKubeconfig(res.KubeconfigData, pki.MergeOptions{Paths: pki.FilePaths(file)}); err != nil {
						return fmt.Errorf("cluster %s: certificates renewed, but renewing context %s in %s failed (docker rke kubeconfig --merge %s does it): %w", cluster, pki.ContextName(cluster), file, cluster, err)
					}
					fmt.Fprintf(a.Stderr, "cluster %s: context %s in %s renewed\n", cluster, pki.ContextName(cluster), file)
				}
			}
			fmt.Fprintf(a.Stdout, "%s: %d certificates renewed in %s; every node Ready\n  kubectl --kubeconfig %s get nodes\n", cluster, len(renew), time.Since(log.start).Round(100*time.Millisecond), res.Kubeconfig)
			return nil
		},
	}
}
