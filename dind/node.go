package dind

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/docker-rke/docker-rke/runtime"
)

// Milestone is a line a node's entrypoint (images/node/entrypoint.sh)
// prints when its boot reached a point; what runs after the boot waits
// for them in the node's log rather than polling the node.
type Milestone string

// The milestones of a node's boot, in order.
const (
	// EngineReady: the node's engine answers, its cgroups are writable,
	// its DNS and pod routes are in place.
	EngineReady Milestone = "entrypoint: ready"
	// StaticImageLoaded: the pause image, which static components run
	// from, is in the node's engine.
	StaticImageLoaded Milestone = "entrypoint: static image loaded"
	// ImagesLoaded: every image baked into the node image is loaded (the
	// runtime image kubelet and kube-proxy run from, pause in
	// containerd).
	ImagesLoaded Milestone = "entrypoint: images loaded"
)

// Milestones lists them all.
func Milestones() []Milestone { return []Milestone{EngineReady, StaticImageLoaded, ImagesLoaded} }

// Node is one running node container as the steps after its boot reach
// it: commands through the outer engine's exec API, the components of its
// own engine, connections into its network namespace and the milestones of
// its boot. It is all deploy sees of a node (deploy.Node).
type Node struct {
	e         *Engine
	name      string
	container string
	mode      Mode
}

// Node returns the handle of a node that Up or Start reported.
func (e *Engine) Node(s NodeStatus) *Node {
	return &Node{e: e, name: s.Node, container: s.Container, mode: s.Mode}
}

// Exec runs a command in the node, its standard input read from stdin
// (nil: none), and returns what it printed; a non-zero exit is an error
// carrying the output.
func (n *Node) Exec(ctx context.Context, cmd []string, stdin io.Reader) (string, error) {
	return ExecInput(ctx, n.e.api, n.container, cmd, stdin)
}

// Converge brings one component of the node's engine to its plan, through
// the engine's shared client of the node.
func (n *Node) Converge(ctx context.Context, c runtime.Component, filesHash string) (Action, error) {
	api, err := n.e.NodeClient(n.container)
	if err != nil {
		return "", err
	}
	return ConvergeComponent(ctx, api, c, filesHash, n.mode)
}

// Logs returns the last lines a component of the node printed, or why
// there are none; it reads them even when ctx is cancelled (for errors).
func (n *Node) Logs(ctx context.Context, component string, lines int) string {
	api, err := n.e.NodeClient(n.container)
	if err != nil {
		return "(no logs: " + err.Error() + ")"
	}
	return ComponentLogs(context.WithoutCancel(ctx), api, component, lines)
}

// Dial connects to an address in the node's network namespace (its
// loopback, where components listen).
func (n *Node) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return NodeLocalDialer(n.e.api, n.container)(ctx, network, addr)
}

// Reached returns when the node's boot (since the container's last
// start) reached a milestone; it fails if the node stops first.
func (n *Node) Reached(ctx context.Context, m Milestone) error {
	if err := n.e.waitLogLine(ctx, n.container, string(m)); err != nil {
		return fmt.Errorf("node container %s: waiting for %q: %w", n.container, m, err)
	}
	return nil
}

// ReadFile returns a regular file of the node, refusing one larger than
// max bytes.
func (n *Node) ReadFile(ctx context.Context, path string, max int64) ([]byte, error) {
	return n.e.copyFileFrom(ctx, n.container, path, max)
}
