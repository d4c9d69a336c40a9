// Package oneshot runs a command in a short-lived container on an engine
// and hands over what it printed: the builder listing a suite's images or
// extracting tools, doctor looking at the host, the conformance suite.
// The container always goes afterwards, with any anonymous volume its
// image declares, whether the command failed, the caller's context was
// cancelled or the engine broke off.
package oneshot

import (
	"context"
	"fmt"
	"io"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
)

// Options say what to run and where its output goes.
type Options struct {
	// Config is the container's: image, entrypoint, command, labels, ...
	Config *container.Config
	// Host is its host configuration; nil means no network at all.
	Host *container.HostConfig
	// Name names the container; "" lets the engine pick one.
	Name string
	// Input, if set, is a tar archive unpacked at / before the start:
	// files the command reads, without a bind mount of the caller's
	// machine (the engine may be remote).
	Input io.Reader
	// Stdout and Stderr receive the command's streams as they come; nil
	// discards.
	Stdout, Stderr io.Writer
	// Finish, if set, runs once the command has exited, before the
	// container is removed: to copy what it wrote out of it.
	Finish func(ctx context.Context, id string) error
}

// Run runs the command to its end and returns its exit status. An error
// means the command could not run, or its end could not be seen; a
// command that failed is an exit status, for the caller to judge.
// Cancelling ctx stops reading at once and removes the container, which
// stops the command.
func Run(ctx context.Context, api client.ContainerAPIClient, opts Options) (int64, error) {
	host := opts.Host
	if host == nil {
		host = &container.HostConfig{NetworkMode: "none"}
	}
	created, err := api.ContainerCreate(ctx, opts.Config, host, nil, nil, opts.Name)
	if err != nil {
		if opts.Name != "" && !cerrdefs.IsConflict(err) {
			// A create cut short (Ctrl-C) may still have made it, and a
			// fixed name would then block the next run.
			_ = api.ContainerRemove(context.WithoutCancel(ctx), opts.Name, container.RemoveOptions{Force: true, RemoveVolumes: true})
		}
		return 0, &CreateError{Image: opts.Config.Image, Err: err}
	}
	defer func() {
		_ = api.ContainerRemove(context.WithoutCancel(ctx), created.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
	}()
	if opts.Input != nil {
		if err := api.CopyToContainer(ctx, created.ID, "/", opts.Input, container.CopyToContainerOptions{}); err != nil {
			return 0, fmt.Errorf("copying its input: %w", err)
		}
	}
	attach, err := api.ContainerAttach(ctx, created.ID, container.AttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return 0, fmt.Errorf("attaching: %w", err)
	}
	defer attach.Close()
	// A cancelled context does not end a hijacked stream by itself:
	// closing it does, and the deferred remove stops the command.
	stopRead := context.AfterFunc(ctx, func() { attach.Close() })
	defer stopRead()
	if err := api.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return 0, fmt.Errorf("starting: %w", err)
	}
	stdout, stderr := orDiscard(opts.Stdout), orDiscard(opts.Stderr)
	_, err = stdcopy.StdCopy(stdout, stderr, attach.Reader)
	switch {
	case ctx.Err() != nil:
		return 0, ctx.Err()
	case err != nil:
		return 0, fmt.Errorf("reading its output: %w", err)
	}
	var exit int64
	waitC, errC := api.ContainerWait(ctx, created.ID, container.WaitConditionNotRunning)
	select {
	case res := <-waitC:
		exit = res.StatusCode
	case err := <-errC:
		return 0, fmt.Errorf("waiting for its end: %w", err)
	}
	if opts.Finish != nil {
		if err := opts.Finish(ctx, created.ID); err != nil {
			return exit, err
		}
	}
	return exit, nil
}

// CreateError is a container that could not be made: the name is taken
// (cerrdefs.IsConflict of Err), the image is missing (IsNotFound), ...
// Errors of the later steps are not CreateErrors, so that a container
// removed under a run is not taken for a missing image.
type CreateError struct {
	Image string
	Err   error
}

func (e *CreateError) Error() string {
	return fmt.Sprintf("creating a container of %s: %v", e.Image, e.Err)
}
func (e *CreateError) Unwrap() error { return e.Err }

// Tail is the last n lines of a command's output, for an error message.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
