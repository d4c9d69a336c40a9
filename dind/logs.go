package dind

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// LogsOptions say how much of a log to show, as docker logs's flags do.
type LogsOptions struct {
	// Tail is the number of lines from the end to show; negative: all.
	Tail       int
	Follow     bool
	Timestamps bool
}

// StreamComponentLogs copies a component's log from a node's engine to
// stdout and stderr until the log ends (or, following, until ctx ends).
func (e *Engine) StreamComponentLogs(ctx context.Context, node, component string, opts LogsOptions, stdout, stderr io.Writer) error {
	api, err := e.NodeClient(node)
	if err != nil {
		return err
	}
	tail := "all"
	if opts.Tail >= 0 {
		tail = strconv.Itoa(opts.Tail)
	}
	rc, err := api.ContainerLogs(ctx, component, container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: opts.Follow, Tail: tail, Timestamps: opts.Timestamps})
	if err != nil {
		return fmt.Errorf("node container %s: %s: %w", node, component, err)
	}
	defer rc.Close()
	if _, err := stdcopy.StdCopy(stdout, stderr, rc); err != nil && ctx.Err() == nil {
		return fmt.Errorf("node container %s: %s log: %w", node, component, err)
	}
	return nil
}

// StreamFile copies the end of a file in a node container (a log the
// node keeps, such as the API server's audit log) to w; following, it
// keeps copying what is appended, across rotations, until ctx ends.
func (e *Engine) StreamFile(ctx context.Context, node, path string, opts LogsOptions, w io.Writer) error {
	lines := "+1" // tail's "from the first line"
	if opts.Tail >= 0 {
		lines = strconv.Itoa(opts.Tail)
	}
	cmd := []string{"tail", "-n", lines, path}
	if opts.Follow {
		cmd = []string{"tail", "-n", lines, "-F", path}
	}
	exec, err := e.api.ContainerExecCreate(ctx, node, container.ExecOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return fmt.Errorf("node container %s: reading %s: %w", node, path, err)
	}
	resp, err := e.api.ContainerExecAttach(ctx, exec.ID, container.ExecAttachOptions{})
	if err != nil {
		return fmt.Errorf("node container %s: reading %s: %w", node, path, err)
	}
	defer resp.Close()
	// Ctrl-C ends a follow: closing the connection ends the copy.
	stop := context.AfterFunc(ctx, resp.Close)
	defer stop()
	errOut := &capped{max: 4096}
	if _, err := stdcopy.StdCopy(w, errOut, resp.Reader); err != nil && ctx.Err() == nil {
		return fmt.Errorf("node container %s: reading %s: %w", node, path, err)
	}
	if ctx.Err() != nil {
		return nil
	}
	info, err := e.api.ContainerExecInspect(ctx, exec.ID)
	if err != nil {
		return fmt.Errorf("node container %s: reading %s: %w", node, path, err)
	}
	if info.ExitCode != 0 {
		return fmt.Errorf("node container %s: reading %s: %s", node, path, errOut.String())
	}
	return nil
}

// capped keeps the first max bytes written to it.
type capped struct {
	b   []byte
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - len(c.b); room > 0 {
		c.b = append(c.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (c *capped) String() string { return string(c.b) }
