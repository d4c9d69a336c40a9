package plugin

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/docker-rke/docker-rke/images/node"
)

func (a *App) imagesCommand() *cli.Command {
	return &cli.Command{
		Name:  "images",
		Usage: "Build the images clusters run, locally, without a registry",
		Subcommands: []*cli.Command{{
			Name:      "build",
			Usage:     "Build images (today: the node image)",
			ArgsUsage: "[node]",
			Action: func(c *cli.Context) error {
				for _, what := range c.Args().Slice() {
					if what != "node" {
						return cli.Exit(fmt.Sprintf("unknown image %q: buildable today: node", what), 2)
					}
				}
				log := newStepLog(a.Stderr)
				start := time.Now()
				ref, built, err := node.Build(c.Context, a.Docker.Client(), node.BuildOptions{Progress: func(line string) { log.Printf("%s", line) }})
				if err != nil {
					return err
				}
				inspect, err := a.Docker.Client().ImageInspect(c.Context, ref)
				if err != nil {
					return fmt.Errorf("inspecting %s: %w", ref, err)
				}
				how := "cached"
				if built {
					how = "built"
				}
				fmt.Fprintf(a.Stdout, "%s\t%s\t%.0f MB\t%s\n", ref, how, float64(inspect.Size)/1e6, time.Since(start).Round(100*time.Millisecond))
				return nil
			},
		}},
	}
}
