package builder

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/docker-rke/docker-rke/dind"
)

// seedStores are the parts of a node's stores that know its loaded
// images: the engine's image metadata and layers, containerd's content,
// metadata and snapshots. The rest (networks, containers, runtime state,
// the engine's ID) belongs to each node and is made at its boot.
var seedStores = []struct {
	dir  string
	keep []string
}{
	{"/var/lib/docker", []string{"image", "overlay2"}},
	{"/var/lib/containerd", []string{"io.containerd.content.v1.content", "io.containerd.metadata.v1.bolt", "io.containerd.snapshotter.v1.overlayfs"}},
}

// seedPrefix is where the seed sits in the build context; the Dockerfile
// copies it to /opt/docker-rke/seed/.
const seedPrefix = "seed"

// seed boots image once as a node, which loads the images saved in it,
// and writes the stores it filled into tw, under seed/var/lib/.
func (b *Builder) seed(ctx context.Context, image string, tw *tar.Writer) error {
	engine := dind.NewEngine(b.api, b.log)
	mode, err := engine.Mode(ctx, image, b.opts.ModeCache)
	if err != nil {
		return err
	}
	err = engine.BootOnce(ctx, image, mode, func(name string) error {
		for _, store := range seedStores {
			rc, _, err := b.api.CopyFromContainer(ctx, name, store.dir)
			if err != nil {
				return fmt.Errorf("reading %s of the booted node: %w", store.dir, err)
			}
			err = filterStore(tw, rc, path.Dir(store.dir), store.keep)
			rc.Close()
			if err != nil {
				return fmt.Errorf("reading %s of the booted node: %w", store.dir, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	return nil
}

// filterStore copies a store's archive (entries named after the store's
// directory: docker/, docker/image/...) into tw under seed/<parent>/, with
// only the store itself and the subdirectories in keep.
func filterStore(tw *tar.Writer, r io.Reader, parent string, keep []string) error {
	rename := func(name string) string {
		return path.Join(seedPrefix, parent, name)
	}
	kept := func(name string) bool {
		parts := strings.SplitN(strings.TrimSuffix(name, "/"), "/", 3)
		return len(parts) == 1 || slices.Contains(keep, parts[1]) // the store's own directory, or one kept
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if !kept(hdr.Name) {
			continue
		}
		hdr.Name = rename(hdr.Name)
		if hdr.Typeflag == tar.TypeDir {
			hdr.Name += "/"
		}
		if hdr.Typeflag == tar.TypeLink {
			hdr.Linkname = rename(hdr.Linkname)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}
