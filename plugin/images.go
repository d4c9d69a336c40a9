package plugin

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/urfave/cli/v2"

	"github.com/docker-rke/docker-rke/images"
	"github.com/docker-rke/docker-rke/images/builder"
)

func (a *App) imagesCommand() *cli.Command {
	return &cli.Command{
		Name:  "images",
		Usage: "Build, list, save and load the images clusters run, built locally without a registry",
		Subcommands: []*cli.Command{
			{
				Name:      "build",
				Usage:     "Build every image of a Kubernetes release (each only when missing or changed)",
				ArgsUsage: "[node]",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "kubernetes-version", Value: images.DefaultKubernetesVersion(), Usage: "the release to build: " + strings.Join(images.KubernetesVersions(), ", ")},
					&cli.BoolFlag{Name: "all", Usage: "build every release docker rke knows (docker rke version lists them)"},
					&cli.BoolFlag{Name: "e2e", Usage: "also build the release's conformance suite and the images its specs run (docker rke conformance runs it)"},
				},
				Action: a.imagesBuild,
			},
			{
				Name:    "ls",
				Aliases: []string{"list"},
				Usage:   "List the images docker rke built on this engine",
				Flags: []cli.Flag{
					formatFlag(imageFields),
					&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only print image references"},
				},
				Action: a.imagesList,
			},
			a.imagesSaveCommand(),
			a.imagesLoadCommand(),
			a.imagesPushCommand(),
		},
	}
}

func (a *App) imagesBuild(c *cli.Context) error {
	log := newStepLog(a.Stderr)
	defer log.Spin()()
	start := time.Now()
	if c.Args().First() == "node" {
		ref, built, err := builder.BuildNode(c.Context, a.Docker.Client(), builder.NodeOptions{Progress: func(line string) { log.Printf("%s", line) }})
		if err != nil {
			return err
		}
		return a.printBuildResults([]builder.Result{{Name: "node", Ref: ref, Built: built, Duration: time.Since(start)}}, start)
	}
	if c.NArg() > 0 {
		return cli.Exit(fmt.Sprintf("unknown image %q: images build builds a whole release, or only the node image with 'node'", c.Args().First()), 2)
	}
	releases := images.Releases()
	switch {
	case c.Bool("all") && c.IsSet("kubernetes-version"):
		return cli.Exit("images build: --all builds every release; leave out --kubernetes-version", 2)
	case !c.Bool("all"):
		rel, err := images.Lookup(c.String("kubernetes-version"))
		if err != nil {
			return err
		}
		releases = []images.Release{rel}
	}
	cacheDir, err := buildCacheDir()
	if err != nil {
		return err
	}
	b := builder.New(a.Docker.Client(), log, builder.Options{CacheDir: cacheDir, ModeCache: a.modeCache()})
	var results []builder.Result
	for _, rel := range releases {
		// One release after the other: the components they share
		// (etcd, CoreDNS, containerd, ...) are built once, by the first.
		r, err := b.BuildRelease(c.Context, rel)
		if err != nil {
			return err
		}
		results = append(results, r...)
		if c.Bool("e2e") {
			r, err := b.BuildConformance(c.Context, rel)
			if err != nil {
				return err
			}
			results = append(results, r...)
		}
	}
	return a.printBuildResults(results, start)
}

// buildCacheDir keeps wrapper modules and binaries between builds.
func buildCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for image builds: %w", err)
	}
	return filepath.Join(dir, "docker-rke"), nil
}

func (a *App) printBuildResults(results []builder.Result, start time.Time) error {
	// Callers stop the spinner (deferred) after this returns; its line is
	// on stderr and this table on stdout, so clear it first.
	tw := tabwriter.NewWriter(a.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tRESULT\tSIZE\tTIME")
	built := 0
	for _, r := range results {
		how := "cached"
		if r.Built {
			how = "built"
			built++
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f MB\t%s\n", r.Ref, how, float64(r.Size)/1e6, r.Duration.Round(100*time.Millisecond))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "%d built, %d from cache, in %s\n", built, len(results)-built, time.Since(start).Round(100*time.Millisecond))
	return nil
}

func (a *App) imagesList(c *cli.Context) error {
	list, err := a.Docker.Client().ImageList(c.Context, image.ListOptions{Filters: filters.NewArgs(filters.Arg("reference", images.Repository+"/*"))})
	if err != nil {
		return fmt.Errorf("listing images: %w", err)
	}
	var rows []*imageRow
	for _, img := range list {
		for _, tag := range img.RepoTags {
			r := &imageRow{ref: tag, component: img.Labels["io.docker-rke.component"], version: img.Labels["io.docker-rke.version"], size: img.Size, created: time.Unix(img.Created, 0)}
			if r.component == "" {
				r.component, r.version = "node", tag[strings.LastIndex(tag, ":")+1:]
			}
			rows = append(rows, r)
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].ref < rows[j].ref })
	return writeFormatted(a.Stdout, c.String("format"), imageTable, "{{.Image}}", c.Bool("quiet"), imageHeader(), rows)
}
