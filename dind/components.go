package dind

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/docker-rke/docker-rke/internal/digest"
	"github.com/docker-rke/docker-rke/runtime"
)

// LabelComponent marks the component containers docker rke runs in a
// node's engine; LabelSpec holds their configuration's hash there too.
const LabelComponent = "io.docker-rke.component"

// LabelFiles holds the hash of the files (certificates, configs) a
// component was started with: when they change, the component is
// replaced, since it reads them only at start.
const LabelFiles = "io.docker-rke.files"

// componentSpec translates a planned component into docker's configs for
// the node's engine. It is pure.
// mode is how the node itself runs: a privileged component gets what the
// node can give.
func componentSpec(c runtime.Component, filesHash string, mode Mode) (*container.Config, *container.HostConfig, string) {
	cfg := &container.Config{
		Image: c.Image,
		// The command replaces the image's entrypoint: components may run
		// from an image whose entrypoint is something else (pause's).
		Entrypoint: c.Command,
		Cmd:        c.Args,
		Env:        c.Env,
		Labels:     map[string]string{LabelComponent: c.Name, LabelFiles: filesHash},
	}
	host := &container.HostConfig{
		Binds:         c.Binds,
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyAlways},
		LogConfig:     container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m", "max-file": "2"}},
	}
	if c.HostNetwork {
		host.NetworkMode = network.NetworkHost
	}
	if c.HostPID {
		host.PidMode = "host"
	}
	if c.Privileged {
		grantPrivileges(host, mode)
	}
	hash := digest.JSON(struct {
		C *container.Config
		H *container.HostConfig
	}{cfg, host}, digest.Label)
	cfg.Labels[LabelSpec] = hash
	return cfg, host, hash
}

// ConvergeComponent brings one component container in a node's engine to
// its plan: kept when it matches and runs, started when stopped, replaced
// when it drifted (its configuration or the files it reads), created when
// missing. RKE's run-container helper does the same on hosts.
func ConvergeComponent(ctx context.Context, node client.APIClient, c runtime.Component, filesHash string, mode Mode) (Action, error) {
	cfg, host, hash := componentSpec(c, filesHash, mode)
	have, err := node.ContainerInspect(ctx, c.Name)
	observed := Observed{}
	switch {
	case cerrdefs.IsNotFound(err):
	case err != nil:
		return "", fmt.Errorf("component %s: inspect: %w", c.Name, err)
	default:
		observed.Exists = true
		if have.Config != nil {
			observed.Spec = have.Config.Labels[LabelSpec]
		}
		// A container waiting to restart (its restart policy) counts as
		// running: the engine starts it again by itself.
		observed.Running = have.State != nil && have.State.Running
	}
	action := decide(observed, hash)
	switch action {
	case Kept:
		return Kept, nil
	case Started:
		if err := node.ContainerStart(ctx, c.Name, container.StartOptions{}); err != nil {
			return "", fmt.Errorf("component %s: start: %w", c.Name, err)
		}
		return Started, nil
	case Replaced:
		if err := node.ContainerRemove(ctx, c.Name, container.RemoveOptions{Force: true}); err != nil {
			return "", fmt.Errorf("component %s: remove the drifted container: %w", c.Name, err)
		}
	}
	if _, err := node.ContainerCreate(ctx, cfg, host, nil, nil, c.Name); err != nil {
		return "", fmt.Errorf("component %s: create: %w", c.Name, err)
	}
	if err := node.ContainerStart(ctx, c.Name, container.StartOptions{}); err != nil {
		return "", fmt.Errorf("component %s: start: %w", c.Name, err)
	}
	return action, nil
}

// NodeLocalDialer dials addresses inside a node's network namespace
// (127.0.0.1:2381, say) through the outer engine's exec API and socat in
// the node: components listen on the node's loopback, which nothing
// outside the node can reach. A component that is starting does not
// listen yet: socat retries its connect inside the node for up to 5 s
// rather than failing, since every failed dial would cost a health poll
// another exec.
func NodeLocalDialer(api client.ContainerAPIClient, node string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if !strings.HasPrefix(network, "tcp") {
			return nil, fmt.Errorf("node %s: cannot dial %s", node, network)
		}
		return dialExecCmd(ctx, api, node, []string{"socat", "-", "TCP:" + addr + ",retry=50,interval=0.1"})
	}
}

// ComponentLogs returns the last lines a container printed (a node on the
// outer engine, or a component in a node's engine), for errors.
func ComponentLogs(ctx context.Context, node client.ContainerAPIClient, name string, lines int) string {
	rc, err := node.ContainerLogs(ctx, name, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: fmt.Sprint(lines)})
	if err != nil {
		return fmt.Sprintf("(no logs: %v)", err)
	}
	defer rc.Close()
	data, _ := io.ReadAll(io.LimitReader(rc, 64<<10))
	return demux(data)
}
