package plugin

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/docker-rke/docker-rke/dind"
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
			engine := dind.NewEngine(a.Docker.Client(), newStepLog(a.Stderr))
			clusters, err := engine.List(c.Context)
			if err != nil {
				return err
			}
			format := c.String("format")
			if c.Bool("quiet") {
				format = "{{.Name}}"
			}
			switch format {
			case "table":
				tw := tabwriter.NewWriter(a.Stdout, 0, 8, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tNODES\tROLES\tSTATE\tKUBERNETES\tAGE")
				for _, cl := range clusters {
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", cl.Name, cl.Nodes, cl.Roles, cl.State, cl.KubernetesVersion, age(time.Since(cl.Created)))
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
