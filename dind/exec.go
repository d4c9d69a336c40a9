package dind

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
)

// Exec runs a command in a node container and returns what it printed;
// a non-zero exit is an error that carries the output.
func Exec(ctx context.Context, api client.ContainerAPIClient, node string, cmd []string) (string, error) {
	return ExecInput(ctx, api, node, cmd, nil)
}

// ExecInput is Exec with stdin read from in (nil: no stdin).
func ExecInput(ctx context.Context, api client.ContainerAPIClient, node string, cmd []string, in io.Reader) (string, error) {
	exec, err := api.ContainerExecCreate(ctx, node, container.ExecOptions{Cmd: cmd, AttachStdin: in != nil, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return "", fmt.Errorf("node container %s: exec %s: %w", node, cmd[0], err)
	}
	resp, err := api.ContainerExecAttach(ctx, exec.ID, container.ExecAttachOptions{})
	if err != nil {
		return "", fmt.Errorf("node container %s: exec %s: attach: %w", node, cmd[0], err)
	}
	defer resp.Close()
	written := make(chan error, 1)
	if in != nil {
		go func() {
			_, err := io.Copy(resp.Conn, in)
			if cerr := resp.CloseWrite(); err == nil {
				err = cerr
			}
			written <- err
		}()
	} else {
		written <- nil
	}
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, resp.Reader); err != nil {
		return "", fmt.Errorf("node container %s: exec %s: %w", node, cmd[0], err)
	}
	if err := <-written; err != nil {
		return "", fmt.Errorf("node container %s: exec %s: writing its input: %w", node, cmd[0], err)
	}
	info, err := api.ContainerExecInspect(ctx, exec.ID)
	if err != nil {
		return "", fmt.Errorf("node container %s: exec %s: %w", node, cmd[0], err)
	}
	if info.ExitCode != 0 {
		return out.String(), fmt.Errorf("node container %s: %s exited with %d: %s", node, cmd[0], info.ExitCode, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}
