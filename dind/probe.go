package dind

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/docker-rke/docker-rke/internal/oneshot"
	"github.com/docker-rke/docker-rke/runtime"
)

// ModeCache remembers, per engine, which Mode works there, so that the
// probe runs once per engine rather than once per up.
type ModeCache interface {
	Load(engineID string) (Mode, bool)
	Store(engineID string, m Mode)
}

// mode decides how node containers get their privileges on this engine.
// Nodes that exist already carry the answer in a label; then the cache is
// asked; otherwise a short-lived privileged container tells. Some hosts
// (these CI machines among them) lack CAP_SYS_RESOURCE in their bounding
// set, and runc then fails every privileged container with "unable to
// apply caps".
func (e *Engine) mode(ctx context.Context, clusters []runtime.Cluster, cache ModeCache) (Mode, error) {
	list, err := e.api.ContainerList(ctx, container.ListOptions{
		All:     true,
		Limit:   1,
		Filters: filters.NewArgs(filters.Arg("label", LabelMode)),
	})
	if err != nil {
		return "", fmt.Errorf("listing node containers: %w", err)
	}
	if len(list) > 0 {
		if m := Mode(list[0].Labels[LabelMode]); m == Privileged || m == Capabilities {
			return m, nil
		}
	}
	if len(clusters) == 0 || len(clusters[0].Nodes) == 0 {
		return Privileged, nil
	}
	return e.Mode(ctx, clusters[0].Nodes[0].Image, cache)
}

// Mode tells how node containers get their privileges on this engine:
// from the cache if it knows the engine, else by probing with a
// short-lived privileged container of image.
func (e *Engine) Mode(ctx context.Context, image string, cache ModeCache) (Mode, error) {
	var engineID string
	if cache != nil {
		info, err := e.api.Info(ctx)
		if err != nil {
			return "", fmt.Errorf("engine info: %w", err)
		}
		engineID = info.ID
		if m, ok := cache.Load(engineID); ok {
			return m, nil
		}
	}
	m, err := e.probe(ctx, image)
	if err == nil && cache != nil && engineID != "" {
		cache.Store(engineID, m)
	}
	return m, err
}

func (e *Engine) probe(ctx context.Context, image string) (Mode, error) {
	name := fmt.Sprintf("rke-probe-%d-%d", os.Getpid(), time.Now().UnixNano())
	_, err := e.api.ContainerCreate(ctx, &container.Config{
		Image:      image,
		Entrypoint: []string{"/bin/true"},
		Labels:     map[string]string{LabelProbe: "true"},
	}, &container.HostConfig{Privileged: true}, nil, nil, name)
	if err != nil {
		return "", fmt.Errorf("probing for privileged containers: create: %w", err)
	}
	defer func() { _ = e.removeContainer(context.WithoutCancel(ctx), name) }()
	err = e.api.ContainerStart(ctx, name, container.StartOptions{})
	switch {
	case err == nil:
		return Privileged, nil
	case strings.Contains(err.Error(), "apply caps") || strings.Contains(err.Error(), "operation not permitted"):
		e.log.Printf("this engine refuses privileged containers (its capability bounding set lacks CAP_SYS_RESOURCE): nodes get every other capability instead")
		return Capabilities, nil
	default:
		return "", fmt.Errorf("probing for privileged containers: start: %w", err)
	}
}

// logTail returns the last lines a node container printed.
func (e *Engine) logTail(ctx context.Context, name string, lines int) string {
	return ComponentLogs(ctx, e.api, name, lines)
}

// RunScript runs a shell script in a short-lived container of image on
// the engine's host (no network, removed with its volumes afterwards) and
// returns what it printed: doctor's look at the host, as nodes would see
// it.
func (e *Engine) RunScript(ctx context.Context, image, script string) (string, error) {
	var out, stderr strings.Builder
	exit, err := oneshot.Run(ctx, e.api, oneshot.Options{
		Config: &container.Config{
			Image:      image,
			Entrypoint: []string{"sh", "-c", script},
			Labels:     map[string]string{LabelProbe: "doctor"},
		},
		Name:   fmt.Sprintf("rke-doctor-%d-%d", os.Getpid(), time.Now().UnixNano()),
		Stdout: &out,
		Stderr: &stderr,
	})
	switch {
	case err != nil:
		return "", err
	case exit != 0:
		return "", fmt.Errorf("exit %d: %s", exit, oneshot.Tail(stderr.String(), 10))
	}
	return out.String(), nil
}
