package dind

import (
	"context"
	_ "embed"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
)

// A load into several nodes sends its stage through a courier: a
// short-lived container of the cluster's node image that mounts every
// node's /var volume, the first node's at /var and the others' at /n/1,
// /n/2, ... The engine then extracts the stage once, into the first
// node's volume, and the courier copies it into the others' with cp,
// which copies in the kernel, where the engine would otherwise take and
// untar the same bytes once per node. Measured on a 2-core machine with a
// 111 MB stage into three nodes: the three extractions 0.85-1.1 s, one
// extraction and the courier's two copies 0.45-0.5 s. The courier runs
// no network, no privilege and no daemon. Its main process takes its
// commands on its input, attached by the load before it starts, and ends
// with it: when the load closes it, or when the load's connection goes
// (the tool was killed), since the input is StdinOnce. The engine then
// removes the container (AutoRemove), and the load does not wait for
// that (0.1 s of a 2-core engine's time). A command on an attached input
// also costs the engine less than an exec (no runc exec, no four API
// calls).

// courierScript serves the load's commands, copying a stage from the
// first node's volume into the others' (see the file).
//
//go:embed courier.sh
var courierScript string

// copyCommand copies the stage at dir (under from/lib) into every to: a
// command the courier serves, or the arguments of the script.
func copyCommand(from, dir string, to []string) []string {
	return append([]string{"copy", from, dir}, to...)
}

// courierCommand runs the script with a command, as a process of its own.
func courierCommand(command []string) []string {
	return append([]string{"sh", "-c", courierScript, "courier"}, command...)
}

// courierEntrypoint is the courier's main process: it serves the
// commands on its input until the input ends.
func courierEntrypoint() []string {
	return courierCommand([]string{"serve"})
}

// courier is a running courier container, its input and output attached.
type courier struct {
	name string
	// to is, per node after the first, where its /var volume is mounted.
	to []string
	attached
}

// courierFor starts a courier for a group of nodes in the background and
// returns what waits for it: nil when the group has one node, or when the
// courier could not start (each node's engine then extracts the stage, as
// it would without one).
func (e *Engine) courierFor(ctx context.Context, cluster string, nodes []NodeInfo, group []int, stage string) func() *courier {
	if len(group) < 2 {
		return func() *courier { return nil }
	}
	started := make(chan *courier, 1)
	go func() {
		c, err := e.startCourier(ctx, cluster, nodes, group, stage)
		if err != nil && e.debug != nil {
			e.debug.Printf("[%s] no courier for the load, each node's engine extracts it: %v", cluster, err)
		}
		started <- c
	}()
	return func() *courier { return <-started }
}

// startCourier creates and starts the courier for a group's nodes
// (indexes into nodes), named after the stage. It fails, leaving nothing,
// when a node's /var is not a volume or the engine refuses: the load then
// sends the stage to every node itself.
func (e *Engine) startCourier(ctx context.Context, cluster string, nodes []NodeInfo, group []int, stage string) (*courier, error) {
	e.sweepCouriers(ctx, cluster)
	c := &courier{name: fmt.Sprintf("rke-%s-load-%s", cluster, path.Base(stage))}
	mounts := make([]mount.Mount, len(group))
	var image string
	for j, i := range group {
		inspect, err := e.api.ContainerInspect(ctx, nodes[i].Container)
		if err != nil {
			return nil, err
		}
		vol := varSource(inspect)
		if vol == "" {
			return nil, fmt.Errorf("node %s: its /var is not a volume", nodes[i].Name)
		}
		target := "/var"
		if j == 0 {
			// The node's own image has sh and cp; by ID, since its tag
			// may be gone.
			image = inspect.Image
		} else {
			target = fmt.Sprintf("/n/%d", j)
			c.to = append(c.to, target)
		}
		mounts[j] = mount.Mount{Type: mount.TypeVolume, Source: vol, Target: target, VolumeOptions: &mount.VolumeOptions{NoCopy: true}}
	}
	_, err := e.api.ContainerCreate(ctx, &container.Config{
		Image:        image,
		Entrypoint:   courierEntrypoint(),
		Labels:       map[string]string{LabelCluster: cluster, LabelProbe: "load"},
		OpenStdin:    true,
		StdinOnce:    true,
		AttachStdin:  true,
		AttachStdout: true,
		AttachStderr: true,
	}, &container.HostConfig{NetworkMode: "none", Mounts: mounts, AutoRemove: true}, nil, nil, c.name)
	if err != nil {
		return nil, err
	}
	// Attached before it starts, so that nothing it says is missed.
	conn, err := e.api.ContainerAttach(ctx, c.name, container.AttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		e.removeCourier(ctx, c.name)
		return nil, err
	}
	c.attached = newAttached(conn)
	if err := e.api.ContainerStart(ctx, c.name, container.StartOptions{}); err != nil {
		c.conn.Close()
		e.removeCourier(ctx, c.name)
		return nil, err
	}
	return c, nil
}

// sweepCouriers removes the couriers of a cluster that are not running:
// created by a load that was killed before it started them, or left by
// an engine that stopped before it could remove them.
func (e *Engine) sweepCouriers(ctx context.Context, cluster string) {
	list, err := e.api.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(
		filters.Arg("label", LabelCluster+"="+cluster),
		filters.Arg("label", LabelProbe+"=load"),
		filters.Arg("status", "exited"),
		filters.Arg("status", "created"),
	)})
	if err != nil {
		return
	}
	for _, c := range list {
		e.removeCourier(ctx, c.ID)
	}
}

// fanOutStage copies the stage at dir (under stageRoot) from the first
// node's volume into the others', and returns per node after the first
// why it did not get it (nil: it did). An error means no copy could be
// made.
func (e *Engine) fanOutStage(ctx context.Context, c *courier, dir string) ([]error, error) {
	command := strings.Join(copyCommand("/var", dir, c.to), " ")
	if e.debug != nil {
		defer func(start time.Time) {
			e.debug.Printf("debug: engine: courier %s: %s (%s)", c.name, command, time.Since(start).Round(time.Millisecond))
		}(time.Now())
	}
	if err := c.say(command); err != nil {
		return nil, fmt.Errorf("copying the images between nodes: the courier: %w", err)
	}
	// The copy is the courier's whole work: it answers, a line per node,
	// when it is done, or the load's context ends.
	lines, whole, err := c.hear(ctx, func(_ string, n int) bool { return n == len(c.to) })
	if err != nil {
		return nil, fmt.Errorf("copying the images between nodes: %w", err)
	}
	if !whole {
		return nil, fmt.Errorf("copying the images between nodes: the courier said %q and ended (%v)", strings.Join(lines, "; "), c.lines.Err())
	}
	errs := make([]error, len(c.to))
	for j, l := range lines {
		if l != "ok" {
			errs[j] = fmt.Errorf("copying the images into the node's /var: %s", l)
		}
	}
	return errs, nil
}

// endCourier closes a courier's input, which ends it, and leaves its
// removal to the engine (AutoRemove) without waiting for it. A courier
// whose input cannot be closed is removed.
func (e *Engine) endCourier(ctx context.Context, c *courier) {
	if err := c.close(); err != nil {
		e.removeCourier(ctx, c.name)
	}
}

// removeCourier removes a courier, even when the load was interrupted.
// Its volumes are the nodes' and stay: they are named, and only a
// container's anonymous volumes go with it (the image's /var is the first
// node's volume).
func (e *Engine) removeCourier(ctx context.Context, name string) {
	if err := e.removeContainer(context.WithoutCancel(ctx), name); err != nil {
		e.log.Printf("removing the load's courier container %s: %v", name, err)
	}
}
