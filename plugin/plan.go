package plugin

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
	"sigs.k8s.io/yaml"

	"github.com/docker-rke/docker-rke/dsl"
	"github.com/docker-rke/docker-rke/model"
	"github.com/docker-rke/docker-rke/runtime"
)

func (a *App) planCommand() *cli.Command {
	return &cli.Command{
		Name:      "plan",
		Usage:     "Print the node plan of a cluster definition without creating anything",
		ArgsUsage: "FILE (a Go cluster script or an RKE cluster.yml)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "output format: table, json or yaml"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("plan needs exactly one FILE, e.g. docker rke plan samples/cluster1.go", 2)
			}
			format := c.String("format")
			if format != "table" && format != "json" && format != "yaml" {
				return cli.Exit(fmt.Sprintf("--format %q: want table, json or yaml", format), 2)
			}
			plan, err := a.loadPlan(c, c.Args().First())
			if err != nil {
				return err
			}
			return writePlan(a.Stdout, plan, format)
		},
	}
}

// loadPlan reads a definition, prints its warnings and builds its plan.
func (a *App) loadPlan(c *cli.Context, file string) (*runtime.Plan, error) {
	def, warnings, err := dsl.LoadFile(c.Context, file, dsl.Options{Output: a.Stderr})
	printWarnings(a.Stderr, warnings.Warnings())
	if err != nil {
		return nil, err
	}
	return runtime.Build(def)
}

func writePlan(w io.Writer, plan *runtime.Plan, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(plan)
	case "yaml":
		out, err := yaml.Marshal(plan)
		if err != nil {
			return err
		}
		_, err = w.Write(out)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tNODE\tCONTAINER\tROLES\tKUBERNETES\tCOMPONENTS")
	for _, c := range plan.Clusters {
		for _, n := range c.Nodes {
			comps := make([]string, len(n.Components))
			for i, comp := range n.Components {
				comps[i] = comp.Name
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, n.Name, n.ContainerName, joinRoles(n.Roles), c.KubernetesVersion, strings.Join(comps, ","))
		}
	}
	return tw.Flush()
}

func joinRoles(roles []model.Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}
