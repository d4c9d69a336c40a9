package plugin

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	"github.com/urfave/cli/v2"
)

// certCommand shows a cluster's certificates (RKE's cert commands; rotate
// is yet to come).
func (a *App) certCommand() *cli.Command {
	return &cli.Command{
		Name:  "cert",
		Usage: "Show a cluster's certificates",
		Subcommands: []*cli.Command{{
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
