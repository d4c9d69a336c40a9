package plugin

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/docker-rke/docker-rke/dind"
)

func (a *App) loadCommand() *cli.Command {
	return &cli.Command{
		Name:      "load",
		Usage:     "Load images from the engine or a docker save archive into a cluster's nodes",
		ArgsUsage: "IMAGE... | --archive FILE",
		Description: "Puts images into the containerd of every node of the cluster (or of each --node), where\n" +
			"pods with imagePullPolicy IfNotPresent run them: no registry is needed. Images come from\n" +
			"the engine of your docker context (never pulled) or from a docker save archive. A node\n" +
			"that holds the same image under the same name already is skipped.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "cluster", Usage: "the cluster to load into (docker rke ls lists them)"},
			&cli.StringSliceFlag{Name: "node", Usage: "load into this node only (repeat for more); default: every node"},
			&cli.StringFlag{Name: "archive", Usage: "load the images of this docker save archive instead of images from the engine"},
		},
		Action: func(c *cli.Context) error {
			cluster, archive := c.String("cluster"), c.String("archive")
			if cluster == "" {
				cluster = a.kubectlCluster()
			}
			switch {
			case cluster == "":
				return cli.Exit("load needs --cluster NAME (docker rke ls lists them), e.g. docker rke load myapp:dev --cluster cluster1", 2)
			case archive != "" && c.NArg() > 0:
				return cli.Exit("load takes either IMAGE... or --archive FILE, not both", 2)
			case archive == "" && c.NArg() == 0:
				return cli.Exit("load needs at least one IMAGE, or --archive FILE", 2)
			}
			log := newStepLog(a.Stderr)
			defer log.Spin()()
			engine := a.newEngine(log)
			defer engine.Close()
			var src dind.ImageSource
			var err error
			if archive != "" {
				src, err = dind.ArchiveImages(archive)
			} else {
				src, err = engine.EngineImages(c.Context, c.Args().Slice())
			}
			if err != nil {
				return err
			}
			start := time.Now()
			results, err := engine.Load(c.Context, dind.LoadOptions{Cluster: cluster, Nodes: c.StringSlice("node"), Source: src})
			if len(results) > 0 {
				log.Clear()
				tw := tabwriter.NewWriter(a.Stdout, 0, 8, 2, ' ', 0)
				fmt.Fprintln(tw, "NODE\tIMAGE\tACTION")
				for _, r := range results {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Node, r.Image, r.Action)
				}
				if ferr := tw.Flush(); err == nil {
					err = ferr
				}
			}
			if err != nil {
				return err
			}
			log.Printf("[%s] %d nodes: done in %s", cluster, len(results)/len(src.Images), time.Since(start).Round(10*time.Millisecond))
			return nil
		},
	}
}
