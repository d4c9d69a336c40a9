package builder

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"

	"github.com/docker-rke/docker-rke/images"
	"github.com/docker-rke/docker-rke/images/node"
	"github.com/docker-rke/docker-rke/internal/oneshot"
)

// runtimeFiles is the tar of runtime tools, read once per build run.
type runtimeFiles struct{ tar []byte }

// runtimeFiles extracts the runtime tools from the node base image through
// a short-lived container on the engine.
func (b *Builder) runtimeFiles(ctx context.Context) (*runtimeFiles, error) {
	if _, _, err := BuildNode(ctx, b.api, NodeOptions{Progress: func(line string) { b.log.Printf("%s", line) }}); err != nil {
		return nil, err
	}
	b.log.Printf("[images] collecting iptables, conntrack, mount and nsenter from %s", node.BaseImage())
	out, err := b.runOnce(ctx, node.BaseImage(), []string{"sh", "-c", images.RuntimeScript()})
	if err != nil {
		return nil, fmt.Errorf("runtime tools: %w", err)
	}
	return &runtimeFiles{tar: out}, nil
}

// runOnce runs a command in a short-lived container of an image, with no
// network, and returns what it wrote to stdout; it fails with the end of
// stderr if the command does.
func (b *Builder) runOnce(ctx context.Context, ref string, cmd []string) ([]byte, error) {
	var out, stderr bytes.Buffer
	exit, err := oneshot.Run(ctx, b.api, oneshot.Options{
		Config: &container.Config{
			Image:      ref,
			Entrypoint: cmd[:1],
			Cmd:        cmd[1:],
			Labels:     map[string]string{"io.docker-rke.builder": "run"},
		},
		Stdout: &out,
		Stderr: &stderr,
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: %s: %w", ref, cmd[0], err)
	case exit != 0:
		return nil, fmt.Errorf("%s: %s: exit %d: %s", ref, cmd[0], exit, oneshot.Tail(stderr.String(), 10))
	}
	return out.Bytes(), nil
}

// assemble writes the image's root file system as a tar stream into the
// engine's import API (no temporary file), then tags it. The tag moves
// only when the import succeeded, so a failed build never leaves a
// half-built image under the final name.
func (b *Builder) assemble(ctx context.Context, c images.Component, hash string, bins map[string]string, rt *runtimeFiles) (int64, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeRootfs(pw, c, bins, rt)) }()
	changes := []string{fmt.Sprintf("LABEL %s=%s io.docker-rke.component=%s io.docker-rke.version=%s", images.LabelRecipe, hash, c.Name, c.Version)}
	for _, e := range c.Env {
		changes = append(changes, "ENV "+e)
	}
	if len(c.Entrypoint) > 0 {
		changes = append(changes, fmt.Sprintf("ENTRYPOINT %s", jsonList(c.Entrypoint)))
	}
	resp, err := b.api.ImageImport(ctx, image.ImportSource{Source: pr, SourceName: "-"}, "", image.ImportOptions{
		Message: "docker-rke " + c.Name + " " + c.Version,
		Changes: changes,
	})
	if err != nil {
		pr.CloseWithError(err)
		return 0, fmt.Errorf("import: %w", err)
	}
	defer resp.Close()
	var id string
	if err := ReadMessages(resp, func(s string) {
		if strings.HasPrefix(s, "sha256:") {
			id = strings.TrimSpace(s)
		}
	}); err != nil {
		return 0, fmt.Errorf("import: %w", err)
	}
	if id == "" {
		return 0, errors.New("import: the engine returned no image ID")
	}
	old, _ := b.api.ImageInspect(ctx, c.Ref)
	if err := b.api.ImageTag(ctx, id, c.Ref); err != nil {
		_, _ = b.api.ImageRemove(context.WithoutCancel(ctx), id, image.RemoveOptions{Force: true})
		return 0, fmt.Errorf("tag: %w", err)
	}
	if old.ID != "" && old.ID != id {
		// The previous build of this tag is now untagged: drop it unless
		// something still uses it.
		_, _ = b.api.ImageRemove(ctx, old.ID, image.RemoveOptions{})
	}
	img, err := b.api.ImageInspect(ctx, c.Ref)
	if err != nil {
		return 0, err
	}
	return img.Size, nil
}

func writeRootfs(w io.Writer, c images.Component, bins map[string]string, rt *runtimeFiles) error {
	tw := tar.NewWriter(w)
	now := time.Unix(0, 0)
	dirs := map[string]bool{}
	mkdir := func(d string) error {
		d = strings.TrimPrefix(path.Clean(d), "/")
		if d == "." || d == "" || dirs[d] {
			return nil
		}
		dirs[d] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: now})
	}
	if c.Runtime && rt != nil {
		tr := tar.NewReader(bytes.NewReader(rt.tar))
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("runtime tools tar: %w", err)
			}
			if err := mkdirs(mkdir, h.Name); err != nil {
				return err
			}
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if _, err := io.Copy(tw, tr); err != nil {
				return err
			}
		}
	}
	for _, d := range []string{"/tmp", "/etc", "/var/run", "/run"} {
		if err := mkdir(d); err != nil {
			return err
		}
	}
	for name, content := range map[string]string{
		"etc/passwd":        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
		"etc/group":         "root:x:0:\nnogroup:x:65534:\n",
		"etc/nsswitch.conf": "hosts: files dns\n",
	} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), ModTime: now}); err != nil {
			return err
		}
		if _, err := io.WriteString(tw, content); err != nil {
			return err
		}
	}
	for _, bin := range c.Binaries {
		if err := mkdirs(mkdir, bin.Path); err != nil {
			return err
		}
		data, err := os.ReadFile(bins[bin.Path])
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(bin.Path, "/"), Mode: 0o755, Size: int64(len(data)), ModTime: now}); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
		for _, link := range bin.Links {
			name := path.Join(path.Dir(bin.Path), link)
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: strings.TrimPrefix(name, "/"), Linkname: path.Base(bin.Path), Mode: 0o777, ModTime: now}); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

// mkdirs writes the parent directories of name.
func mkdirs(mkdir func(string) error, name string) error {
	dir := path.Dir("/" + strings.TrimPrefix(name, "/"))
	var parts []string
	for d := dir; d != "/" && d != "."; d = path.Dir(d) {
		parts = append([]string{d}, parts...)
	}
	for _, d := range parts {
		if err := mkdir(d); err != nil {
			return err
		}
	}
	return nil
}

func jsonList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
