package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/client"
	"github.com/docker/go-units"
	"github.com/urfave/cli/v2"

	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/images"
)

// Images that travel: a release's node image holds everything its
// clusters run (every binary, and the runtime and pause images seeded
// into the node's stores), so it is all another machine needs for up. It
// is saved and loaded as a docker save archive, through the engines' own
// API: the machine that loads it needs no root, Go or debootstrap, only a
// docker context.

func (a *App) imagesSaveCommand() *cli.Command {
	return &cli.Command{
		Name:      "save",
		Usage:     "Write the node images of releases to a docker save archive, for images load on another machine",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "the archive to write (never overwritten)"},
			&cli.StringSliceFlag{Name: "kubernetes-version", Usage: "a release to save (repeat for more); default: the default release"},
			&cli.BoolFlag{Name: "all", Usage: "every release docker rke builds"},
		},
		Action: func(c *cli.Context) error {
			rels, err := releasesFlag(c)
			if err != nil {
				return err
			}
			out := c.String("output")
			if _, err := os.Lstat(out); err == nil {
				return cli.Exit(fmt.Sprintf("%s exists: images save never overwrites a file", out), 2)
			}
			var refs []string
			for _, rel := range rels {
				refs = append(refs, images.NodeImage(rel))
			}
			if err := a.requireImages(c.Context, refs); err != nil {
				return err
			}
			start := time.Now()
			size, err := saveImages(c, a, refs, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "%s: %s (%s) in %s\n", out, strings.Join(refs, ", "), units.HumanSizeWithPrecision(float64(size), 3), time.Since(start).Round(100*time.Millisecond))
			return nil
		},
	}
}

// saveImages streams docker save of refs into a new file next to out and
// renames it into place once complete: a failed or interrupted save
// leaves nothing.
func saveImages(c *cli.Context, a *App, refs []string, out string) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	rc, err := a.Docker.Client().ImageSave(c.Context, refs)
	if err != nil {
		tmp.Close()
		return 0, fmt.Errorf("saving %s: %w", strings.Join(refs, ", "), err)
	}
	defer rc.Close()
	size, err := io.Copy(tmp, rc)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("saving %s into %s: %w", strings.Join(refs, ", "), out, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return 0, err
	}
	// A file that appeared meanwhile is not overwritten either.
	if err := os.Link(tmp.Name(), out); err != nil {
		return 0, fmt.Errorf("writing %s: %w", out, err)
	}
	return size, nil
}

func (a *App) imagesLoadCommand() *cli.Command {
	return &cli.Command{
		Name:      "load",
		Usage:     "Load node images from an archive of images save into the engine: up then needs no build",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Required: true, Usage: "the archive images save wrote"},
		},
		Action: func(c *cli.Context) error {
			in := c.String("input")
			src, err := dind.ArchiveImages(in)
			if err != nil {
				return err
			}
			if err := checkTravelled(src.Images); err != nil {
				return fmt.Errorf("%s: %w", in, err)
			}
			f, err := os.Open(in)
			if err != nil {
				return err
			}
			defer f.Close()
			start := time.Now()
			resp, err := a.Docker.Client().ImageLoad(c.Context, f, client.ImageLoadWithQuiet(true))
			if err != nil {
				return fmt.Errorf("loading %s: %w", in, err)
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil {
				return fmt.Errorf("loading %s: %w", in, err)
			}
			var names []string
			for _, img := range src.Images {
				// What the engine holds now is what the archive said.
				got, err := a.Docker.Client().ImageInspect(c.Context, img.Source)
				if err != nil || got.ID != img.ID {
					return fmt.Errorf("loading %s: %s is not on the engine as the archive's %s afterwards: %v", in, img.Source, img.ID, err)
				}
				names = append(names, img.Source)
			}
			fmt.Fprintf(a.Stdout, "%s loaded in %s: up runs its releases without building\n", strings.Join(names, ", "), time.Since(start).Round(100*time.Millisecond))
			return nil
		},
	}
}

// requireImages fails, naming every one of refs the engine lacks, unless
// it holds them all: what images save and push send must be built first.
func (a *App) requireImages(ctx context.Context, refs []string) error {
	var missing []string
	for _, ref := range refs {
		switch _, err := a.Docker.Client().ImageInspect(ctx, ref); {
		case cerrdefs.IsNotFound(err):
			missing = append(missing, ref)
		case err != nil:
			return fmt.Errorf("inspecting %s: %w", ref, err)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("not on the engine: %s; build them first (docker rke images build --kubernetes-version V)", strings.Join(missing, ", "))
	}
	return nil
}

// checkTravelled accepts an archive of node images of releases this
// docker rke runs, made from the same recipes (the tag names the recipe's
// hash): a node image of another docker rke would not be what up expects.
// It is pure.
func checkTravelled(imgs []dind.LoadImage) error {
	known := map[string]bool{}
	var want []string
	for _, rel := range images.Releases() {
		known[images.NodeImage(rel)] = true
		want = append(want, images.NodeImage(rel))
	}
	var problems []error
	for _, img := range imgs {
		if !known[img.Source] {
			problems = append(problems, fmt.Errorf("%s is not a node image this docker rke runs (it runs %s): save the archive with the same docker rke version", img.Source, strings.Join(want, ", ")))
		}
	}
	return errors.Join(problems...)
}

// releasesFlag reads --kubernetes-version (repeatable) and --all.
func releasesFlag(c *cli.Context) ([]images.Release, error) {
	versions := c.StringSlice("kubernetes-version")
	switch {
	case c.Bool("all") && len(versions) > 0:
		return nil, cli.Exit("--all saves every release; leave out --kubernetes-version", 2)
	case c.Bool("all"):
		return images.Releases(), nil
	case len(versions) == 0:
		versions = []string{images.DefaultKubernetesVersion()}
	}
	var out []images.Release
	for _, v := range versions {
		rel, err := images.Lookup(v)
		if err != nil {
			return nil, cli.Exit(err.Error(), 2)
		}
		if !slices.Contains(out, rel) {
			out = append(out, rel)
		}
	}
	return out, nil
}
