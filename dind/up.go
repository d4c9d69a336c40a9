package dind

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/docker-rke/docker-rke/internal/fanout"
	"github.com/docker-rke/docker-rke/runtime"
)

// Logger receives one line per step. Lines name the cluster and the node.
type Logger interface {
	Printf(format string, args ...any)
}

// Engine creates, converges, lists and removes nodes on one docker engine.
type Engine struct {
	api     client.APIClient
	dialer  DialerFactory
	log     Logger
	clients nodeClients
	// debug, if set, hears of every request to a node's engine.
	debug Logger
	// made is what this Engine created, for Rollback.
	made made
}

// NewEngine returns an Engine for the docker client the command line built.
func NewEngine(api client.APIClient, log Logger) *Engine {
	return &Engine{api: api, dialer: ExecDialerFactory(api), log: log}
}

// UpOptions tune Up.
type UpOptions struct {
	// ReadyTimeout bounds the wait for every node's engine to answer.
	ReadyTimeout time.Duration
	// ModeCache, if set, remembers how this engine runs nodes.
	ModeCache ModeCache
}

// NodeStatus is the outcome for one node.
type NodeStatus struct {
	Cluster   string   `json:"cluster"`
	Node      string   `json:"node"`
	Container string   `json:"container"`
	Roles     []string `json:"roles"`
	Address   string   `json:"address"`
	// APIPort is the API server's port published on the engine host's
	// 127.0.0.1, for controlplane nodes.
	APIPort string `json:"apiPort,omitempty"`
	Action  Action `json:"action"`
	// Mode is how the node runs, and so what its components can get.
	Mode Mode `json:"mode"`
}

// Up converges the nodes of every cluster to the plan: what exists and
// matches is kept, what is missing is created, what is stopped is started,
// what drifted is replaced, and nodes no longer in the plan are removed.
// Clusters and nodes are handled in parallel and every node's error is
// reported. Up returns when every node's engine answers. What it creates
// is recorded: if up fails (here or later), Rollback removes it.
func (e *Engine) Up(ctx context.Context, clusters []runtime.Cluster, opts UpOptions) ([]NodeStatus, error) {
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 2 * time.Minute
	}
	if err := e.checkImages(ctx, clusters); err != nil {
		return nil, err
	}
	mode, err := e.mode(ctx, clusters, opts.ModeCache)
	if err != nil {
		return nil, err
	}
	statuses := make([][]NodeStatus, len(clusters))
	err = fanout.Each(clusters, func(i int, c runtime.Cluster) (err error) {
		statuses[i], err = e.upCluster(ctx, c, mode, opts)
		return err
	})
	if err != nil {
		return nil, err
	}
	return slices.Concat(statuses...), nil
}

// checkImages fails before anything is created when a node's image is not
// on the engine. docker rke never pulls: no registry is assumed reachable.
func (e *Engine) checkImages(ctx context.Context, clusters []runtime.Cluster) error {
	var errs []error
	seen := map[string]error{}
	for _, c := range clusters {
		for _, n := range c.Nodes {
			err, checked := seen[n.Image]
			if !checked {
				_, err = e.api.ImageInspect(ctx, n.Image)
				seen[n.Image] = err
			}
			switch {
			case err == nil:
			case cerrdefs.IsNotFound(err):
				errs = append(errs, fmt.Errorf("cluster %s node %s (container %s): image %s is not on the engine; docker rke never pulls images: build it (docker rke images build node) or load it (docker load)", c.Name, n.Name, n.ContainerName, n.Image))
			default:
				errs = append(errs, fmt.Errorf("cluster %s node %s: inspecting image %s: %w", c.Name, n.Name, n.Image, err))
			}
		}
	}
	return errors.Join(errs...)
}

func (e *Engine) upCluster(ctx context.Context, c runtime.Cluster, mode Mode, opts UpOptions) ([]NodeStatus, error) {
	ipam, fixed, err := e.ensureNetwork(ctx, c)
	if err != nil {
		return nil, err
	}
	existing, err := e.clusterContainers(ctx, c.Name)
	if err != nil {
		return nil, err
	}
	planned := map[string]bool{}
	containers := make([]string, len(c.Nodes))
	have := map[string]string{}
	for i, n := range c.Nodes {
		planned[n.ContainerName] = true
		containers[i] = n.ContainerName
		have[n.ContainerName] = containerAddress(existing[n.ContainerName], c.Network)
	}
	addrs := map[string]string{}
	if fixed {
		if addrs, err = nodeAddresses(ipam.Subnet, ipam.Gateway, have, containers); err != nil {
			return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
		}
	}
	// Nodes that left the definition go first, so their names are free.
	// Their data goes with them: the definition says they are gone.
	for name, ctr := range existing {
		if !planned[name] {
			e.log.Printf("[%s] node %s: not in the definition any more: removing container %s and its volume %s", c.Name, ctr.Labels[LabelNode], name, VarVolume(name))
			if err := e.removeContainer(ctx, name); err != nil {
				return nil, fmt.Errorf("cluster %s: removing container %s: %w", c.Name, name, err)
			}
			if err := e.removeVolume(ctx, VarVolume(name)); err != nil {
				return nil, fmt.Errorf("cluster %s: removing volume %s: %w", c.Name, VarVolume(name), err)
			}
		}
	}
	ports, err := apiPorts(c, existing, freeLocalPort)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
	}

	statuses := make([]NodeStatus, len(c.Nodes))
	err = fanout.Each(c.Nodes, func(i int, n runtime.Node) error {
		nopts := NodeOptions{Mode: mode, Address: addrs[n.ContainerName], APIPort: ports.of(n)}
		action, err := e.convergeNode(ctx, c, n, nopts, existing[n.ContainerName], ports)
		if err == nil {
			err = e.waitReady(ctx, c.Name, n.Name, n.ContainerName, opts.ReadyTimeout)
		}
		if err != nil {
			return fmt.Errorf("cluster %s node %s (container %s): %w", c.Name, n.Name, n.ContainerName, err)
		}
		statuses[i] = NodeStatus{Cluster: c.Name, Node: n.Name, Container: n.ContainerName, Roles: rolesOf(n), Action: action, Mode: mode}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range statuses {
		addr, port, err := e.address(ctx, statuses[i].Container, c.Network)
		if err != nil {
			return nil, err
		}
		statuses[i].Address, statuses[i].APIPort = addr, port
	}
	return statuses, nil
}

func rolesOf(n runtime.Node) []string {
	out := make([]string, len(n.Roles))
	for i, r := range n.Roles {
		out[i] = string(r)
	}
	return out
}

// networkVerdict is what up does with a cluster's network that exists.
type networkVerdict int

const (
	// keepFixed: made with a subnet (the plan's, if it names one) for
	// fixed node addresses.
	keepFixed networkVerdict = iota
	// keepUnfixed: made by an older docker rke, without fixed addresses.
	// Kept with its nodes, which keep the addresses the engine gives
	// them: replacing it would replace every node and lose the cluster's
	// etcd.
	keepUnfixed
	// replace the network and its nodes.
	replace
)

// judgeNetwork decides what to do with a cluster's existing network, and
// says why when it is replaced. It is pure.
func judgeNetwork(nw network.Inspect, subnet string) (networkVerdict, string) {
	if nw.Internal {
		return replace, "left over from choosing a subnet"
	}
	if cfg, ok := ipv4Config(nw); subnet != "" && (!ok || cfg.Subnet != subnet) {
		return replace, "subnet changed to " + subnet
	}
	if nw.Labels[LabelFixedAddresses] == "true" {
		return keepFixed, ""
	}
	return keepUnfixed, ""
}

// ensureNetwork creates the cluster's network unless it exists, and
// returns its subnet and gateway, and whether nodes get fixed addresses
// on it. A network of that name that is not the cluster's is an error,
// not something to take over; one whose subnet drifted from the plan is
// recreated with its nodes.
func (e *Engine) ensureNetwork(ctx context.Context, c runtime.Cluster) (network.IPAMConfig, bool, error) {
	name, opts := ClusterNetwork(c)
	nw, err := e.api.NetworkInspect(ctx, name, network.InspectOptions{})
	switch {
	case err == nil:
		if nw.Labels[LabelCluster] != c.Name {
			return network.IPAMConfig{}, false, fmt.Errorf("cluster %s: a network named %s exists and does not belong to this cluster; remove or rename it", c.Name, name)
		}
		verdict, why := judgeNetwork(nw, c.Subnet)
		switch verdict {
		case keepFixed:
			cfg, _ := ipv4Config(nw)
			return cfg, true, nil
		case keepUnfixed:
			e.log.Printf("[%s] network %s: made by an older docker rke without a fixed subnet: nodes keep the addresses the engine gives them (docker rke rm and up again for fixed ones)", c.Name, name)
			return network.IPAMConfig{}, false, nil
		}
		e.log.Printf("[%s] network %s: %s: replacing the network and its nodes", c.Name, name, why)
		existing, err := e.clusterContainers(ctx, c.Name)
		if err != nil {
			return network.IPAMConfig{}, false, err
		}
		for ctr := range existing {
			if err := e.removeContainer(ctx, ctr); err != nil {
				return network.IPAMConfig{}, false, fmt.Errorf("cluster %s: removing container %s: %w", c.Name, ctr, err)
			}
		}
		if err := e.api.NetworkRemove(ctx, name); err != nil {
			return network.IPAMConfig{}, false, fmt.Errorf("cluster %s: removing network %s: %w", c.Name, name, err)
		}
	case !cerrdefs.IsNotFound(err):
		return network.IPAMConfig{}, false, fmt.Errorf("cluster %s: inspecting network %s: %w", c.Name, name, err)
	}
	cfg, err := e.createNetwork(ctx, name, opts)
	if err != nil {
		return network.IPAMConfig{}, false, fmt.Errorf("cluster %s: creating network %s: %w", c.Name, name, err)
	}
	e.made.network(c.Name, name)
	e.log.Printf("[%s] network %s: created, subnet %s", c.Name, name, cfg.Subnet)
	return cfg, true, nil
}

// createNetwork creates a cluster's network and returns the subnet it
// was made with (its gateway is the engine's default, the subnet's first
// address). The engine takes fixed container addresses only on a network
// made with a subnet: without one in opts, the engine picks a free one as
// it would (it knows its address pools and the host's routes), and the
// network is made again with it. Another cluster's network made in
// between may take the same subnet: then the engine refuses the overlap,
// and a new pick follows.
func (e *Engine) createNetwork(ctx context.Context, name string, opts network.CreateOptions) (network.IPAMConfig, error) {
	if opts.IPAM != nil {
		_, err := e.api.NetworkCreate(ctx, name, opts)
		return opts.IPAM.Config[0], err
	}
	var err error
	for range 3 {
		var cfg network.IPAMConfig
		if cfg.Subnet, err = e.pickSubnet(ctx, name, opts); err != nil {
			return network.IPAMConfig{}, fmt.Errorf("choosing a subnet: %w", err)
		}
		fixed := opts
		fixed.IPAM = &network.IPAM{Config: []network.IPAMConfig{cfg}}
		if _, err = e.api.NetworkCreate(ctx, name, fixed); err == nil || !strings.Contains(err.Error(), "overlaps") {
			return cfg, err
		}
	}
	return network.IPAMConfig{}, err
}

// pickSubnet creates the network without a subnet, reads the one the
// engine chose and removes the network again. Internal: the engine picks
// from the same pools, and sets up no NAT for it (a third fewer iptables
// runs, on the path of every new cluster).
func (e *Engine) pickSubnet(ctx context.Context, name string, opts network.CreateOptions) (string, error) {
	opts.Internal = true
	resp, err := e.api.NetworkCreate(ctx, name, opts)
	if err != nil {
		return "", err
	}
	nw, err := e.api.NetworkInspect(ctx, resp.ID, network.InspectOptions{})
	if rmErr := e.api.NetworkRemove(context.WithoutCancel(ctx), resp.ID); err == nil && rmErr != nil {
		err = rmErr
	}
	if err != nil {
		return "", err
	}
	cfg, ok := ipv4Config(nw)
	if !ok {
		return "", fmt.Errorf("the engine gave network %s no IPv4 subnet", name)
	}
	return cfg.Subnet, nil
}

// ipv4Config is the IPv4 subnet a network was made with, and its gateway.
func ipv4Config(nw network.Inspect) (network.IPAMConfig, bool) {
	for _, cfg := range nw.IPAM.Config {
		if p, err := netip.ParsePrefix(cfg.Subnet); err == nil && p.Addr().Is4() {
			return cfg, true
		}
	}
	return network.IPAMConfig{}, false
}

// containerAddress is a node container's address on the network: the
// fixed one it was made with, else the one it has.
func containerAddress(ctr *container.Summary, net string) string {
	if ctr == nil || ctr.NetworkSettings == nil {
		return ""
	}
	ep := ctr.NetworkSettings.Networks[net]
	if ep == nil {
		return ""
	}
	if ep.IPAMConfig != nil && ep.IPAMConfig.IPv4Address != "" {
		return ep.IPAMConfig.IPv4Address
	}
	return ep.IPAddress
}

// convergeNode brings one node container to its plan: kept when it
// matches and runs, started when it matches and is stopped, else
// replaced (saying what changed) or created. The node's /var volume is
// kept through a replacement.
func (e *Engine) convergeNode(ctx context.Context, c runtime.Cluster, n runtime.Node, opts NodeOptions, have *container.Summary, ports *apiPortSet) (action Action, err error) {
	spec := NodeContainer(c, n, opts)
	observed := Observed{}
	if have != nil {
		observed = Observed{Exists: true, Spec: have.Labels[LabelSpec], Running: have.State == "running"}
	}
	action = decide(observed, spec.Hash)
	switch action {
	case Kept:
		e.log.Printf("[%s] node %s: running and up to date", c.Name, n.Name)
		return Kept, nil
	case Started:
		e.log.Printf("[%s] node %s: %s: starting", c.Name, n.Name, have.State)
		if err := e.api.ContainerStart(ctx, spec.Name, container.StartOptions{}); err != nil {
			return "", startError(spec, err)
		}
		return Started, nil
	case Replaced:
		old, err := e.api.ContainerInspect(ctx, spec.Name)
		if err != nil {
			return "", fmt.Errorf("inspect: %w", err)
		}
		e.log.Printf("[%s] node %s: replacing container %s (%s); its data stays in volume %s", c.Name, n.Name, spec.Name, strings.Join(describeDrift(old, spec, c.Network), "; "), spec.Volume.Name)
		if err := e.adoptVar(ctx, c.Name, n, old, spec); err != nil {
			return "", err
		}
		if err := e.removeContainer(ctx, spec.Name); err != nil {
			return "", fmt.Errorf("remove the drifted container: %w", err)
		}
	}
	if err := e.ensureVolume(ctx, c.Name, spec.Volume); err != nil {
		return "", err
	}
	// The API server's host port is this run's pick when the node had
	// none: another program may hold it by now (on a remote engine's
	// host, say), and then another pick is as good.
	for attempt := 1; ; attempt++ {
		if _, err := e.api.ContainerCreate(ctx, spec.Config, spec.Host, spec.Networking, nil, spec.Name); err != nil {
			return "", fmt.Errorf("create: %w", err)
		}
		e.made.container(c.Name, spec.Name)
		err := e.api.ContainerStart(ctx, spec.Name, container.StartOptions{})
		if err == nil {
			break
		}
		taken, ok := takenHostPort(err)
		if !ok || taken != opts.APIPort || !ports.picked(n) || attempt == 3 {
			return "", startError(spec, err)
		}
		if err := e.removeContainer(ctx, spec.Name); err != nil {
			return "", fmt.Errorf("remove the container that could not start: %w", err)
		}
		if opts.APIPort, err = ports.repick(n); err != nil {
			return "", err
		}
		e.log.Printf("[%s] node %s: host port %d is taken: publishing the API server on %d instead", c.Name, n.Name, taken, opts.APIPort)
		spec = NodeContainer(c, n, opts)
	}
	e.log.Printf("[%s] node %s: container %s %s", c.Name, n.Name, spec.Name, action)
	return action, nil
}

// ensureVolume creates a volume of the cluster unless it exists (a node
// replaced or re-created keeps its data); a volume it creates is
// recorded for Rollback.
func (e *Engine) ensureVolume(ctx context.Context, cluster string, opts volume.CreateOptions) error {
	if _, err := e.api.VolumeInspect(ctx, opts.Name); err == nil {
		return nil
	} else if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("volume %s: %w", opts.Name, err)
	}
	if _, err := e.api.VolumeCreate(ctx, opts); err != nil {
		return fmt.Errorf("volume %s: %w", opts.Name, err)
	}
	e.made.volume(cluster, opts.Name)
	return nil
}

// waitReady returns when the node's engine answers a ping through the
// tunnel. Rather than hammering the node with pings while it boots (each
// one is an exec, and every node boots at once), it follows the node's log
// until the entrypoint reports its engine up, then pings; a node container
// that exits instead fails at once with its last log lines.
func (e *Engine) waitReady(ctx context.Context, cluster, node, containerName string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	if err := e.waitLogLine(ctx, containerName, string(EngineReady)); err != nil {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("engine did not start within %s:\n%s", timeout, e.logTail(context.WithoutCancel(ctx), containerName, 15))
		}
		return err
	}
	nodeClient, err := e.NodeClient(containerName)
	if err != nil {
		return err
	}
	var last error
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		_, last = nodeClient.Ping(ctx)
		return last == nil, nil
	})
	if err != nil {
		return fmt.Errorf("engine started but does not answer through the tunnel: %v", last)
	}
	e.log.Printf("[%s] node %s: engine ready in %s", cluster, node, time.Since(start).Round(10*time.Millisecond))
	return nil
}

// waitLogLine follows a container's log from its current start until a
// line contains want. It fails if the container stops first.
func (e *Engine) waitLogLine(ctx context.Context, name, want string) error {
	inspect, err := e.api.ContainerInspect(ctx, name)
	if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	if inspect.State == nil || inspect.State.StartedAt == "" {
		return fmt.Errorf("node container has not started")
	}
	rc, err := e.api.ContainerLogs(ctx, name, container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: true, Since: inspect.State.StartedAt})
	if err != nil {
		return fmt.Errorf("following the node's log: %w", err)
	}
	defer rc.Close()
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, rc)
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), want) {
			return nil
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	state := "stopped"
	if inspect, err := e.api.ContainerInspect(ctx, name); err == nil && inspect.State != nil {
		state = fmt.Sprintf("%s (exit code %d)", inspect.State.Status, inspect.State.ExitCode)
	}
	return fmt.Errorf("node container %s before its engine answered:\n%s", state, e.logTail(ctx, name, 15))
}

// address returns a node's IP on its network and the host port its API
// server is published on, if any.
func (e *Engine) address(ctx context.Context, name, net string) (string, string, error) {
	inspect, err := e.api.ContainerInspect(ctx, name)
	if err != nil {
		return "", "", fmt.Errorf("inspecting container %s: %w", name, err)
	}
	var ip, port string
	if inspect.NetworkSettings != nil {
		if ep := inspect.NetworkSettings.Networks[net]; ep != nil {
			ip = ep.IPAddress
		}
		for p, bindings := range inspect.NetworkSettings.Ports {
			if p.Int() == runtime.APIServerPort && len(bindings) > 0 {
				port = bindings[0].HostPort
			}
		}
	}
	return ip, port, nil
}

// PublishedAPIPort is the port on the engine host's 127.0.0.1 where a
// controlplane node container publishes its API server now: the engine
// picks another at each start of the node.
func (e *Engine) PublishedAPIPort(ctx context.Context, container string) (string, error) {
	_, port, err := e.address(ctx, container, "")
	if err == nil && port == "" {
		err = fmt.Errorf("node container %s publishes no API server port: is it running? (docker start %s, or docker rke up)", container, container)
	}
	return port, err
}

// clusterContainers returns the cluster's node containers by name.
func (e *Engine) clusterContainers(ctx context.Context, cluster string) (map[string]*container.Summary, error) {
	list, err := e.api.ContainerList(ctx, container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", LabelCluster+"="+cluster)),
	})
	if err != nil {
		return nil, fmt.Errorf("cluster %s: listing containers: %w", cluster, err)
	}
	out := map[string]*container.Summary{}
	for i := range list {
		if _, probe := list[i].Labels[LabelProbe]; probe {
			continue
		}
		out[strings.TrimPrefix(firstName(list[i].Names), "/")] = &list[i]
	}
	return out, nil
}

func firstName(names []string) string {
	if len(names) == 0 {
		return ""
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	return sorted[0]
}

// removeContainer removes a container with its anonymous volumes (a
// node's named /var volume stays). One the engine is removing already (a
// load's courier, AutoRemove) is waited for: its mounts hold the nodes'
// volumes until it is gone.
func (e *Engine) removeContainer(ctx context.Context, name string) error {
	e.forget(name)
	err := e.api.ContainerRemove(ctx, name, container.RemoveOptions{Force: true, RemoveVolumes: true})
	switch {
	case err == nil, cerrdefs.IsNotFound(err):
		return nil
	case cerrdefs.IsConflict(err):
		return e.waitRemoved(ctx, name, err)
	}
	return err
}

// waitRemoved waits, a while, for the engine to finish removing a
// container, and returns why it could not remove it (err) if it does not.
func (e *Engine) waitRemoved(ctx context.Context, name string, err error) error {
	ctx, cancel := context.WithTimeout(ctx, removalWait)
	defer cancel()
	waitC, errC := e.api.ContainerWait(ctx, name, container.WaitConditionRemoved)
	select {
	case <-waitC:
		return nil
	case werr := <-errC:
		if cerrdefs.IsNotFound(werr) {
			return nil
		}
	}
	return err
}

// removalWait bounds how long a removal the engine has under way is
// waited for: it takes a fraction of a second.
const removalWait = 30 * time.Second

// RemoveNodes removes node containers in parallel: what a failed run
// created. Their /var volumes stay (RemoveVolumes).
func (e *Engine) RemoveNodes(ctx context.Context, containers []string) error {
	return fanout.Each(containers, func(_ int, name string) error {
		if err := e.removeContainer(ctx, name); err != nil {
			return fmt.Errorf("removing node container %s: %w", name, err)
		}
		return nil
	})
}

// RemoveVolumes removes volumes a failed run created.
func (e *Engine) RemoveVolumes(ctx context.Context, volumes []string) error {
	return fanout.Each(volumes, func(_ int, name string) error {
		if err := e.removeVolume(ctx, name); err != nil {
			return fmt.Errorf("removing volume %s: %w", name, err)
		}
		return nil
	})
}

func (e *Engine) removeVolume(ctx context.Context, name string) error {
	if err := e.api.VolumeRemove(ctx, name, true); err != nil && !cerrdefs.IsNotFound(err) {
		return err
	}
	return nil
}
