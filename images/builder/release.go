package builder

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"

	"github.com/docker-rke/docker-rke/images"
	"github.com/docker-rke/docker-rke/images/node"
	"github.com/docker-rke/docker-rke/internal/tarball"
)

// BuildRelease builds everything a release needs, each piece only when it
// is missing or its recipe changed: the node image, every component image,
// and the release's node image that bakes them together.
func (b *Builder) BuildRelease(ctx context.Context, rel images.Release) ([]Result, error) {
	start := time.Now()
	_, built, err := BuildNode(ctx, b.api, NodeOptions{Progress: func(line string) { b.log.Printf("%s", line) }})
	if err != nil {
		return nil, err
	}
	results := []Result{{Name: "node", Ref: node.Image(), Built: built, Duration: time.Since(start)}}
	if img, err := b.api.ImageInspect(ctx, node.Image()); err == nil {
		results[0].Size = img.Size
	}
	comps := images.Components(rel)
	more, err := b.Build(ctx, comps)
	results = append(results, more...)
	if err != nil {
		return results, err
	}

	start = time.Now()
	ref := images.NodeImage(rel)
	built, size, err := b.bakeRelease(ctx, rel)
	if err != nil {
		return results, fmt.Errorf("image %s: %w", ref, err)
	}
	results = append(results, Result{Name: "node " + rel.Kubernetes, Ref: ref, Built: built, Size: size, Duration: time.Since(start)})
	b.pruneNodeImages(ctx, rel)
	return results, nil
}

// bakeRelease builds the release's node image unless it is up to date,
// under the build lock (a concurrent run may have baked it meanwhile).
func (b *Builder) bakeRelease(ctx context.Context, rel images.Release) (built bool, size int64, err error) {
	ref, hash := images.NodeImage(rel), images.ReleaseHash(rel)
	if ok, size, err := b.upToDate(ctx, ref, hash); err != nil || ok {
		return false, size, err
	}
	unlock, err := Lock(ctx, func(line string) { b.log.Printf("%s", line) })
	if err != nil {
		return false, 0, err
	}
	defer unlock()
	if ok, size, err := b.upToDate(ctx, ref, hash); err != nil || ok {
		return false, size, err
	}
	b.log.Printf("[images] node image for %s: baking the components into %s", rel.Kubernetes, ref)
	if err := b.buildRelease(ctx, rel, hash, ref); err != nil {
		return false, 0, err
	}
	img, err := b.api.ImageInspect(ctx, ref)
	if err != nil {
		return false, 0, err
	}
	return true, img.Size, nil
}

// pruneNodeImages removes node images of older recipes of this release
// and of the generic node, unless a container still uses them (the engine
// refuses those, and they are kept).
func (b *Builder) pruneNodeImages(ctx context.Context, rel images.Release) {
	list, err := b.api.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("reference", node.Repository))})
	if err != nil {
		return
	}
	// Untagged leftovers of earlier node images go too. Removing one makes
	// its parent (a build step) dangling in turn, hence the rounds.
	for round := 0; round < 20; round++ {
		dangling, err := b.api.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(
			filters.Arg("dangling", "true"), filters.Arg("label", "io.docker-rke.node-image"))})
		removed := 0
		for _, img := range dangling {
			if _, err := b.api.ImageRemove(ctx, img.ID, image.RemoveOptions{}); err == nil {
				removed++
			}
		}
		if err != nil || removed == 0 {
			break
		}
	}
	keep := map[string]bool{node.Image(): true, images.NodeImage(rel): true}
	for _, img := range list {
		for _, tag := range img.RepoTags {
			_, t, _ := strings.Cut(tag, ":")
			ours := !strings.HasPrefix(t, "v") || strings.HasPrefix(t, rel.Kubernetes+"-")
			if keep[tag] || !ours {
				continue
			}
			if _, err := b.api.ImageRemove(ctx, tag, image.RemoveOptions{}); err == nil {
				b.log.Printf("[images] removed the outdated %s", tag)
			}
		}
	}
}

// buildRelease bakes a release into the node image in two builds of the
// engine's classic builder, each on a small context (the binaries come
// from the component images by COPY --from, as layers):
//
//   - a stage image with the two small images saved as tar files;
//   - the stage booted once as a node, which loads them, and the stores
//     of its engine and containerd read back (the seed);
//   - the node image: the same layers (from the builder's cache) and the
//     seed, which a node copies into its /var at its first boot instead of
//     loading images.
//
// Only the final image gets ref; the stage goes whatever happens.
func (b *Builder) buildRelease(ctx context.Context, rel images.Release, hash, ref string) error {
	refs := rel.Defaults()
	stage := ref + "-stage"
	defer func() {
		_, _ = b.api.ImageRemove(context.WithoutCancel(ctx), stage, image.RemoveOptions{Force: true})
	}()
	saved := map[string][]byte{}
	for _, img := range []string{refs.Runtime, refs.Pause} {
		data, err := b.save(ctx, img)
		if err != nil {
			return err
		}
		saved["images/"+SavedName(img)] = data
	}
	// Both builds carry the saved images (the node image too, from the
	// builder's cache: the same layer): a node whose /var was kept from
	// another node image loads them from there.
	addSaved := func(tw *tar.Writer) error {
		for _, name := range slices.Sorted(maps.Keys(saved)) {
			if err := tarball.Add(tw, tarball.File(name, 0o644, saved[name])); err != nil {
				return err
			}
		}
		return nil
	}
	if err := b.classicBuild(ctx, stage, images.ReleaseDockerfile(rel, false), addSaved); err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	b.log.Printf("[images] node image for %s: booting it once to load its images", rel.Kubernetes)
	return b.classicBuild(ctx, ref, images.ReleaseDockerfile(rel, true), func(tw *tar.Writer) error {
		if err := addSaved(tw); err != nil {
			return err
		}
		if err := b.seed(ctx, stage, tw); err != nil {
			return err
		}
		// Which images the seed's stores hold: a node compares it with
		// the one in its /var (entrypoint.sh).
		return tarball.Add(tw, tarball.File(seedPrefix+"/var/lib/docker-rke/seed-id", 0o644, []byte(hash+"\n")))
	})
}

// classicBuild builds a Dockerfile with the context write adds to it, and
// tags the result ref.
func (b *Builder) classicBuild(ctx context.Context, ref, dockerfile string, write func(*tar.Writer) error) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tarball.Add(tw, tarball.File("Dockerfile", 0o644, []byte(dockerfile))); err != nil {
		return err
	}
	if err := write(tw); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	resp, err := b.api.ImageBuild(ctx, &buf, build.ImageBuildOptions{
		Tags:        []string{ref},
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	defer resp.Body.Close()
	return ReadMessages(resp.Body, func(string) {})
}

// SavedName is the file name of a saved image in a node:
// docker-rke/pause:3.10 is /opt/docker-rke/images/pause_3.10.tar.
func SavedName(ref string) string {
	name := ref[strings.LastIndex(ref, "/")+1:]
	return strings.ReplaceAll(name, ":", "_") + ".tar"
}

// save reads an image as docker save writes it. These are the small
// images; the big binaries travel as image layers.
func (b *Builder) save(ctx context.Context, ref string) ([]byte, error) {
	rc, err := b.api.ImageSave(ctx, []string{ref})
	if err != nil {
		return nil, fmt.Errorf("saving %s: %w", ref, err)
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
