package builder

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/docker-rke/docker-rke/images/node"
)

// ImageExists reports whether the engine has the image.
func ImageExists(ctx context.Context, api client.ImageAPIClient, ref string) (bool, error) {
	_, err := api.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	default:
		return false, fmt.Errorf("inspecting image %s: %w", ref, err)
	}
}

// NodeOptions tune BuildNode.
type NodeOptions struct {
	// Progress receives one line per build step.
	Progress func(line string)
}

// BuildNode makes the node image (images/node) unless the engine already
// has it, and returns its reference and whether it had to be built. Each stage gets its final
// tag only when it succeeded, so a failed build leaves no half-built image
// under either tag, and the next run resumes from the stage that is there.
func BuildNode(ctx context.Context, api client.ImageAPIClient, opts NodeOptions) (ref string, built bool, err error) {
	ref = node.Image()
	if ok, err := ImageExists(ctx, api, ref); err != nil || ok {
		return ref, false, err
	}
	// Two builds at once would both run debootstrap and race to tag:
	// take a lock, then look again, since the other build may have
	// finished the image while this one waited.
	unlock, err := Lock(ctx, opts.Progress)
	if err != nil {
		return "", false, err
	}
	defer unlock()
	if ok, err := ImageExists(ctx, api, ref); err != nil || ok {
		return ref, false, err
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	base := node.BaseImage()
	ok, err := ImageExists(ctx, api, base)
	if err != nil {
		return "", false, err
	}
	if !ok {
		progress("building the base " + base + " with debootstrap (minutes; only when build.sh changes)")
		if err := buildBase(ctx, api, base, progress); err != nil {
			return "", false, err
		}
	}
	progress("adding the entrypoint and containerd config: " + ref)
	if err := buildNodeImage(ctx, api, base, ref); err != nil {
		return "", false, err
	}
	return ref, true, nil
}

// buildBase streams build.sh's root file system straight into the engine's
// import API: no temporary tar file, and it works with any docker context.
func buildBase(ctx context.Context, api client.ImageAPIClient, ref string, progress func(string)) error {
	dir, err := os.MkdirTemp("", "docker-rke-node-recipe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "build.sh")
	if err := os.WriteFile(script, node.BuildScript(), 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "bash", script)
	// Its own process group, so cancelling stops debootstrap and apt too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("node image: starting build.sh: %w", err)
	}
	var tail []string
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			tail = append(tail, sc.Text())
			if len(tail) > 20 {
				tail = tail[1:]
			}
			progress(sc.Text())
		}
	}()
	id, importErr := importRootfs(ctx, api, stdout)
	_, _ = io.Copy(io.Discard, stdout) // let the script finish if the engine stopped reading
	<-logDone
	if waitErr := cmd.Wait(); importErr == nil && waitErr != nil {
		importErr = fmt.Errorf("node image: build.sh failed: %w\n%s", waitErr, strings.Join(tail, "\n"))
	}
	if importErr == nil {
		importErr = api.ImageTag(ctx, id, ref)
	}
	if importErr != nil {
		if id != "" {
			_, _ = api.ImageRemove(context.WithoutCancel(ctx), id, image.RemoveOptions{Force: true, PruneChildren: true})
		}
		return importErr
	}
	return nil
}

// importRootfs imports a root file system tar stream as an untagged image
// and returns its ID.
func importRootfs(ctx context.Context, api client.ImageAPIClient, rootfs io.Reader) (string, error) {
	resp, err := api.ImageImport(ctx, image.ImportSource{Source: rootfs, SourceName: "-"}, "", image.ImportOptions{
		Message: "docker-rke node base",
	})
	if err != nil {
		return "", fmt.Errorf("node image: import: %w", err)
	}
	defer resp.Close()
	var id string
	err = ReadMessages(resp, func(status string) {
		if strings.HasPrefix(status, "sha256:") {
			id = strings.TrimSpace(status)
		}
	})
	if err != nil {
		return id, fmt.Errorf("node image: import: %w", err)
	}
	if id == "" {
		return "", errors.New("node image: the engine returned no image ID")
	}
	return id, nil
}

// buildNodeImage builds the node image from the base with the engine's
// classic builder: the base is local, so nothing is pulled.
func buildNodeImage(ctx context.Context, api client.ImageAPIClient, base, ref string) error {
	buildContext, err := node.Context(base)
	if err != nil {
		return err
	}
	resp, err := api.ImageBuild(ctx, bytes.NewReader(buildContext), build.ImageBuildOptions{
		Tags:        []string{ref},
		Remove:      true,
		ForceRemove: true,
		PullParent:  false,
		Version:     build.BuilderV1,
	})
	if err != nil {
		return fmt.Errorf("node image: build: %w", err)
	}
	defer resp.Body.Close()
	if err := ReadMessages(resp.Body, func(string) {}); err != nil {
		return fmt.Errorf("node image: build: %w", err)
	}
	return nil
}

// ReadMessages reads the engine's JSON message stream (import, build) and
// returns the first error it reports; status sees every status line.
func ReadMessages(r io.Reader, status func(string)) error {
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("reading the engine's answer: %w", err)
		}
		if msg.Error != "" {
			return errors.New(msg.Error)
		}
		status(msg.Status)
	}
}
