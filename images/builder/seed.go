package builder

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/docker-rke/docker-rke/dind"
)

// seedStores are the parts of a node's stores that know its loaded
// images: the engine's image metadata and layers, containerd's content,
// metadata and snapshots. The rest (networks, containers, runtime state,
// the engine's ID) belongs to each node and is made at its boot.
var seedStores = map[string][]string{
	"/var/lib/docker":     {"image", "overlay2"},
	"/var/lib/containerd": {"io.containerd.content.v1.content", "io.containerd.metadata.v1.bolt", "io.containerd.snapshotter.v1.overlayfs"},
}

// seedPrefix is where the seed sits in the build context; the Dockerfile
// copies it to /opt/docker-rke/seed/.
const seedPrefix = "seed"

// seed boots image once as a node, which loads the images saved in it,
// and returns a tar of the stores it filled, under seed/var/lib/.
func (b *Builder) seed(ctx context.Context, image string) ([]byte, error) {
	engine := dind.NewEngine(b.api, b.log)
	mode, err := engine.Mode(ctx, image, b.opts.ModeCache)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err = engine.BootOnce(ctx, image, mode, func(name string) error {
		for _, dir := range []string{"/var/lib/docker", "/var/lib/containerd"} {
			rc, _, err := b.api.CopyFromContainer(ctx, name, dir)
			if err != nil {
				return fmt.Errorf("reading %s of the booted node: %w", dir, err)
			}
			err = filterStore(tw, rc, path.Dir(dir), seedStores[dir])
			rc.Close()
			if err != nil {
				return fmt.Errorf("reading %s of the booted node: %w", dir, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
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
		if len(parts) == 1 {
			return true // the store's own directory
		}
		for _, k := range keep {
			if parts[1] == k {
				return true
			}
		}
		return false
	}
	return copyEntries(tw, r, func(hdr *tar.Header) bool {
		if !kept(hdr.Name) {
			return false
		}
		hdr.Name = rename(hdr.Name)
		if hdr.Typeflag == tar.TypeDir {
			hdr.Name += "/"
		}
		if hdr.Typeflag == tar.TypeLink {
			hdr.Linkname = rename(hdr.Linkname)
		}
		return true
	})
}

// copyEntries appends the entries of a tar stream to tw: each that edit
// keeps (it may change the header), or all of them if edit is nil.
func copyEntries(tw *tar.Writer, r io.Reader, edit func(*tar.Header) bool) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if edit != nil && !edit(hdr) {
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}
