package dind

import (
	"context"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/go-connections/nat"

	"github.com/docker-rke/docker-rke/model"
	"github.com/docker-rke/docker-rke/runtime"
)

// apiPortSet holds the host port of each controlplane node's API server:
// the one the node container has (LabelAPIPort), else one this run
// picks. Ports are picked once, at the node's creation, and kept for its
// life: the engine would pick a new one at every start of the container,
// and the kubeconfig would go stale with each restart.
type apiPortSet struct {
	mu     sync.Mutex
	ports  map[string]int  // by container
	chosen map[string]bool // picked by this run
	used   map[int]bool    // host ports the definition or a node holds
	pick   func() (int, error)
}

// apiPorts reads the ports existing nodes keep and picks one for every
// other controlplane node, avoiding the host ports the definition maps.
func apiPorts(c runtime.Cluster, existing map[string]*container.Summary, pick func() (int, error)) (*apiPortSet, error) {
	s := &apiPortSet{ports: map[string]int{}, chosen: map[string]bool{}, used: map[int]bool{}, pick: pick}
	for _, n := range c.Nodes {
		for _, p := range n.Ports {
			s.used[p.HostPort] = true
		}
		if have := existing[n.ContainerName]; have != nil && n.HasRole(model.RoleControlPlane) {
			if p, err := strconv.Atoi(have.Labels[LabelAPIPort]); err == nil && p > 0 {
				s.ports[n.ContainerName] = p
				s.used[p] = true
			}
		}
	}
	for _, n := range c.Nodes {
		if n.HasRole(model.RoleControlPlane) && s.ports[n.ContainerName] == 0 {
			if _, err := s.repick(n); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// of is a node's port, 0 for a node without an API server.
func (s *apiPortSet) of(n runtime.Node) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ports[n.ContainerName]
}

// picked says whether this run chose the node's port (and may choose
// again), rather than the node keeping its own.
func (s *apiPortSet) picked(n runtime.Node) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.chosen[n.ContainerName]
}

// repick chooses a new port for a node.
func (s *apiPortSet) repick(n runtime.Node) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range 100 {
		p, err := s.pick()
		if err != nil {
			return 0, fmt.Errorf("choosing a host port for the API server of node %s: %w", n.Name, err)
		}
		if !s.used[p] {
			s.used[p] = true
			s.ports[n.ContainerName] = p
			s.chosen[n.ContainerName] = true
			return p, nil
		}
	}
	return 0, fmt.Errorf("choosing a host port for the API server of node %s: no free port found", n.Name)
}

// freeLocalPort asks this machine's kernel for a free port on 127.0.0.1,
// as kind and k3d do. For a local engine that is the engine's host; for a
// remote one it is a guess, and a port found taken at the node's start is
// picked again.
func freeLocalPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// takenRE finds the host port in the engine's errors for a port that is
// in use: "Bind for 127.0.0.1:8080 failed: port is already allocated"
// (another container) and "listen tcp4 127.0.0.1:8080: bind: address
// already in use" (another program).
var takenRE = regexp.MustCompile(`:(\d+)(?: failed: port is already allocated|: bind: address already in use)`)

// takenHostPort returns the host port a start failed on, if that is why.
func takenHostPort(err error) (int, bool) {
	m := takenRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, false
	}
	p, convErr := strconv.Atoi(m[1])
	return p, convErr == nil
}

// startError explains a node container that did not start, naming the
// host port when another program or container holds it.
func startError(spec NodeSpec, err error) error {
	port, ok := takenHostPort(err)
	if !ok {
		return fmt.Errorf("start: %w", err)
	}
	for p, bindings := range spec.Host.PortBindings {
		for _, b := range bindings {
			if b.HostPort == strconv.Itoa(port) {
				return fmt.Errorf("host port %s (node port %s) is already in use on the engine's host; free it or map another port: %w", net.JoinHostPort(b.HostIP, b.HostPort), p, err)
			}
		}
	}
	return fmt.Errorf("host port %d is already in use on the engine's host: %w", port, err)
}

// describeDrift says what differs between a node container and its plan,
// in the terms of the definition, for the line up prints before it
// replaces the container. It is pure.
func describeDrift(have container.InspectResponse, want NodeSpec, net string) []string {
	var out []string
	changed := func(what, from, to string) {
		if from != to {
			out = append(out, fmt.Sprintf("%s %s -> %s", what, orNone(from), orNone(to)))
		}
	}
	var cfg container.Config
	if have.Config != nil {
		cfg = *have.Config
	}
	changed("image", cfg.Image, want.Config.Image)
	for _, l := range []struct{ label, what string }{
		{LabelRoles, "roles"},
		{LabelKubernetesVersion, "Kubernetes"},
		{LabelMode, "privileges"},
	} {
		changed(l.what, cfg.Labels[l.label], want.Config.Labels[l.label])
	}
	var host container.HostConfig
	if have.HostConfig != nil {
		host = *have.HostConfig
	}
	out = append(out, setChanges("ports", portList(host.PortBindings), portList(want.Host.PortBindings))...)
	out = append(out, setChanges("mounts", bindList(host.Mounts), bindList(want.Host.Mounts))...)
	out = append(out, setChanges("settings", ownEnv(cfg.Env), ownEnv(want.Config.Env))...)
	if have.NetworkSettings != nil {
		if ep := have.NetworkSettings.Networks[net]; ep != nil && ep.IPAMConfig != nil {
			if wantEP := want.Networking.EndpointsConfig[net]; wantEP != nil && wantEP.IPAMConfig != nil {
				changed("address", ep.IPAMConfig.IPv4Address, wantEP.IPAMConfig.IPv4Address)
			}
		}
	}
	if from := varSource(have); from != want.Volume.Name {
		out = append(out, "/var moves from the container's own volume into "+want.Volume.Name)
	}
	if len(out) == 0 {
		out = append(out, "made by another version of docker rke")
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// setChanges lists what was added to and removed from a set.
func setChanges(what string, from, to []string) []string {
	var out []string
	for _, s := range to {
		if !slices.Contains(from, s) {
			out = append(out, what+" +"+s)
		}
	}
	for _, s := range from {
		if !slices.Contains(to, s) {
			out = append(out, what+" -"+s)
		}
	}
	return out
}

func portList(m nat.PortMap) []string {
	var out []string
	for p, bindings := range m {
		for _, b := range bindings {
			hostPort := b.HostPort
			if hostPort == "" || hostPort == "0" {
				hostPort = "(any)"
			}
			out = append(out, fmt.Sprintf("%s->%s", net.JoinHostPort(b.HostIP, hostPort), p))
		}
	}
	sort.Strings(out)
	return out
}

func bindList(mounts []mount.Mount) []string {
	var out []string
	for _, m := range mounts {
		if m.Type != mount.TypeBind {
			continue
		}
		s := m.Source + ":" + m.Target
		if m.ReadOnly {
			s += ":ro"
		}
		out = append(out, s)
	}
	return out
}

// ownEnv is the environment docker rke sets (the engine adds the image's).
func ownEnv(env []string) []string {
	var out []string
	for _, e := range env {
		if strings.HasPrefix(e, "DOCKER_RKE_") {
			out = append(out, e)
		}
	}
	return out
}

// varSource is the volume a node container has at /var.
func varSource(c container.InspectResponse) string {
	for _, m := range c.Mounts {
		if m.Destination == "/var" && m.Type == mount.TypeVolume {
			return m.Name
		}
	}
	return ""
}

// adoptVar moves a node's /var from the anonymous volume that docker rke
// before named volumes gave it (and that goes with the container) into
// its named volume, before the container is replaced: nothing the node
// kept is lost by an upgrade of docker rke. The old container is stopped
// first, so etcd and the stores are closed.
func (e *Engine) adoptVar(ctx context.Context, cluster string, n runtime.Node, old container.InspectResponse, spec NodeSpec) error {
	from := varSource(old)
	if from == "" || from == spec.Volume.Name {
		return nil
	}
	if err := e.ensureVolume(ctx, cluster, spec.Volume); err != nil {
		return err
	}
	e.log.Printf("[%s] node %s: moving its /var from volume %s into %s", cluster, n.Name, shortID(from), spec.Volume.Name)
	timeout := 60
	if err := e.api.ContainerStop(ctx, old.ID, container.StopOptions{Timeout: &timeout}); err != nil {
		return fmt.Errorf("stopping the node to move its /var: %w", err)
	}
	name := fmt.Sprintf("rke-move-%s-%d-%d", spec.Name, os.Getpid(), time.Now().UnixNano())
	// The old node's own image has cp; by ID, since its tag may be gone.
	_, err := e.api.ContainerCreate(ctx, &container.Config{
		Image:      old.Image,
		Entrypoint: []string{"cp", "-a", "/from/.", "/to/"},
		Labels:     map[string]string{LabelCluster: cluster, LabelProbe: "move"},
	}, &container.HostConfig{
		NetworkMode: "none",
		Mounts: []mount.Mount{
			{Type: mount.TypeVolume, Source: from, Target: "/from", ReadOnly: true},
			{Type: mount.TypeVolume, Source: spec.Volume.Name, Target: "/to", VolumeOptions: &mount.VolumeOptions{NoCopy: true}},
		},
	}, nil, nil, name)
	if err != nil {
		return fmt.Errorf("moving /var: %w", err)
	}
	defer func() { _ = e.removeContainer(context.WithoutCancel(ctx), name) }()
	if err := e.runToEnd(ctx, name); err != nil {
		return fmt.Errorf("moving /var from volume %s into %s: %w", from, spec.Volume.Name, err)
	}
	return nil
}

// runToEnd starts a created container and waits until it exits 0.
func (e *Engine) runToEnd(ctx context.Context, name string) error {
	waitC, errC := e.api.ContainerWait(ctx, name, container.WaitConditionNextExit)
	if err := e.api.ContainerStart(ctx, name, container.StartOptions{}); err != nil {
		return err
	}
	select {
	case res := <-waitC:
		if res.StatusCode != 0 {
			return fmt.Errorf("exit %d: %s", res.StatusCode, e.logTail(ctx, name, 10))
		}
		return nil
	case err := <-errC:
		return err
	}
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
