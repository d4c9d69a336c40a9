// Package dind runs a cluster's nodes: one Docker-in-Docker container per
// node on the engine of the current docker context, a network per cluster,
// and a tunnel to each node's own engine. Everything here is driven through
// the one docker client the command line created. Labels on the engine's
// objects are the only state: ls and rm read them, up converges to them.
package dind

import (
	"fmt"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/go-connections/nat"

	"github.com/docker-rke/docker-rke/internal/digest"
	"github.com/docker-rke/docker-rke/model"
	"github.com/docker-rke/docker-rke/runtime"
)

// Labels on every container, network and volume of a cluster.
const (
	LabelCluster           = "io.docker-rke.cluster"
	LabelNode              = "io.docker-rke.node"
	LabelRoles             = "io.docker-rke.roles"
	LabelKubernetesVersion = "io.docker-rke.kubernetes-version"
	LabelMode              = "io.docker-rke.mode"
	// LabelSpec is the hash of a node container's configuration; a node
	// whose label differs from the plan's has drifted and is replaced.
	LabelSpec = "io.docker-rke.spec"
	// LabelProbe marks the short-lived container that tests whether the
	// engine allows privileged containers.
	LabelProbe = "io.docker-rke.probe"
	// LabelFixedAddresses marks a cluster network made with a subnet, on
	// which nodes get fixed addresses. (The engine shows the subnet of
	// every network, chosen or given, but takes fixed addresses only on
	// networks made with one.)
	LabelFixedAddresses = "io.docker-rke.fixed-addresses"
)

// Mode is how a node container gets the privileges that nested containers
// need.
type Mode string

const (
	// Privileged is docker run --privileged, what most hosts allow.
	Privileged Mode = "privileged"
	// Capabilities is for hosts whose capability bounding set lacks
	// CAP_SYS_RESOURCE, where privileged containers fail to start (runc:
	// "unable to apply caps: operation not permitted"; --cap-add
	// SYS_RESOURCE fails the same way, and engine 20.10 ignores
	// --cap-drop with --privileged): every capability but that one, and
	// unconfined seccomp, AppArmor and system paths, which is what a
	// node's engine needs to run containers there.
	Capabilities Mode = "capabilities"
)

// LabelAPIPort holds the port on the engine host's 127.0.0.1 where a
// controlplane node publishes its API server. up chooses it when it
// creates the node and keeps it for the node's life, replacements
// included, so a kubeconfig that uses it stays valid.
const LabelAPIPort = "io.docker-rke.api-port"

// NodeSpec is everything needed to create one node container.
type NodeSpec struct {
	Name       string
	Config     *container.Config
	Host       *container.HostConfig
	Networking *network.NetworkingConfig
	// Volume is the node's /var: made before the container, kept when
	// the container is replaced, removed with the node or the cluster.
	Volume volume.CreateOptions
	// Hash identifies the configuration; it is also in LabelSpec.
	Hash string
}

// NodeOptions are what up decides about a node container beyond its plan.
type NodeOptions struct {
	// Mode is how the node gets its privileges on this engine.
	Mode Mode
	// Address is the node's fixed address on the cluster network (none
	// if empty).
	Address string
	// APIPort is the host port of a controlplane node's API server, on
	// the engine host's 127.0.0.1.
	APIPort int
}

// VarVolume is the name of a node container's /var volume.
func VarVolume(containerName string) string { return containerName + "-var" }

// nodeVersion is the Kubernetes release a node runs: its own, or the
// cluster's in plans saved before nodes carried one.
func nodeVersion(c runtime.Cluster, n runtime.Node) string {
	if n.KubernetesVersion != "" {
		return n.KubernetesVersion
	}
	return c.KubernetesVersion
}

// NodeContainer translates a planned node into docker's container, host
// and network configuration. It is pure: no daemon is consulted.
func NodeContainer(c runtime.Cluster, n runtime.Node, opts NodeOptions) NodeSpec {
	labels := map[string]string{
		LabelCluster:           c.Name,
		LabelNode:              n.Name,
		LabelRoles:             joinRoles(n.Roles),
		LabelKubernetesVersion: nodeVersion(c, n),
		LabelMode:              string(opts.Mode),
	}
	stopTimeout := int(StopTimeout.Seconds())
	cfg := &container.Config{
		Hostname: n.Hostname,
		Image:    n.Image,
		Env:      nodeEnv(c),
		Labels:   labels,
		// The engine's own shutdown gives the node this long to stop its
		// components in order (docker's default, 10 s, may be too short
		// on a busy host).
		StopTimeout: &stopTimeout,
	}
	host := bootHost(opts.Mode)
	host.NetworkMode = container.NetworkMode(c.Network)
	// unless-stopped: nodes come back with the engine (a restart, the
	// host's reboot), but a node the user stopped (docker rke stop) stays
	// stopped until docker rke start.
	host.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyUnlessStopped}
	vol := VarVolume(n.ContainerName)
	// /var is the node's own named volume: the inner engine's overlay2
	// cannot sit on the node's overlay root file system, and everything
	// the node keeps (etcd's data, loaded images, its certificates and
	// routes, see entrypoint.sh) outlives the container, so a node that
	// up replaces comes back as itself. Not filled from the image (the
	// entrypoint lays out what a first boot needs).
	host.Mounts = append(host.Mounts, mount.Mount{Type: mount.TypeVolume, Source: vol, Target: "/var", VolumeOptions: &mount.VolumeOptions{NoCopy: true}})
	for _, m := range n.Mounts {
		host.Mounts = append(host.Mounts, mount.Mount{Type: mount.TypeBind, Source: m.HostPath, Target: m.NodePath, ReadOnly: m.ReadOnly})
	}
	cfg.ExposedPorts, host.PortBindings = nodePorts(n, opts.APIPort)
	if opts.APIPort != 0 {
		labels[LabelAPIPort] = fmt.Sprint(opts.APIPort)
	}
	endpoint := &network.EndpointSettings{Aliases: []string{n.Hostname}}
	if opts.Address != "" {
		endpoint.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: opts.Address}
	}
	netcfg := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{c.Network: endpoint}}
	spec := NodeSpec{
		Name: n.ContainerName, Config: cfg, Host: host, Networking: netcfg,
		Volume: volume.CreateOptions{Name: vol, Labels: map[string]string{LabelCluster: c.Name, LabelNode: n.Name}},
	}
	spec.Hash = specHash(spec)
	labels[LabelSpec] = spec.Hash
	return spec
}

// nodePorts are the ports a node publishes: the definition's, and for a
// controlplane node its API server on the engine host's 127.0.0.1 (where
// container addresses cannot be reached, Docker Desktop on macOS, the
// kubeconfig uses it; loopback only, never the network).
func nodePorts(n runtime.Node, apiPort int) (nat.PortSet, nat.PortMap) {
	if len(n.Ports) == 0 && apiPort == 0 {
		return nil, nil
	}
	exposed, bindings := nat.PortSet{}, nat.PortMap{}
	add := func(nodePort int, proto string, hostIP string, hostPort int) {
		p := nat.Port(fmt.Sprintf("%d/%s", nodePort, proto))
		exposed[p] = struct{}{}
		bindings[p] = append(bindings[p], nat.PortBinding{HostIP: hostIP, HostPort: fmt.Sprint(hostPort)})
	}
	if apiPort != 0 {
		add(runtime.APIServerPort, "tcp", "127.0.0.1", apiPort)
	}
	for _, p := range n.Ports {
		add(p.NodePort, string(p.Protocol), p.HostIP, p.HostPort)
	}
	return exposed, bindings
}

// bootHost is what every node container needs to boot its engine, but
// its /var.
func bootHost(mode Mode) *container.HostConfig {
	host := &container.HostConfig{
		// A private cgroup namespace roots the node's remounted cgroup
		// hierarchies at its own cgroup, so each node's kubelet sees only
		// its own tree and resource use is counted against the node.
		CgroupnsMode: container.CgroupnsModePrivate,
		Tmpfs:        map[string]string{"/run": "", "/tmp": ""},
		Binds:        []string{"/lib/modules:/lib/modules:ro"},
	}
	grantPrivileges(host, mode)
	return host
}

// grantPrivileges gives a container every privilege the engine can give:
// --privileged, or on engines whose capability bounding set lacks
// CAP_SYS_RESOURCE, every other capability with nothing confined. Nodes
// and the privileged components inside them (kubelet, kube-proxy) get the
// same, since a node cannot pass on what it lacks.
func grantPrivileges(host *container.HostConfig, mode Mode) {
	if mode == Privileged {
		host.Privileged = true
		return
	}
	host.CapAdd = []string{"ALL"}
	host.CapDrop = []string{"SYS_RESOURCE"}
	host.SecurityOpt = []string{"seccomp=unconfined", "apparmor=unconfined"}
	host.MaskedPaths = []string{}   // systempaths=unconfined
	host.ReadonlyPaths = []string{} // systempaths=unconfined
	host.Resources.DeviceCgroupRules = []string{"a *:* rwm"}
}

// nodeEnv tells the node's entrypoint what to configure.
func nodeEnv(c runtime.Cluster) []string {
	env := []string{"container=docker"}
	if len(c.Registries) > 0 {
		// registry=mirror pairs, in the order asked; the entrypoint writes
		// containerd's hosts.toml files from them.
		var pairs []string
		for _, r := range c.Registries {
			for _, m := range r.Mirrors {
				pairs = append(pairs, r.Registry+"="+m)
			}
		}
		env = append(env, "DOCKER_RKE_REGISTRY_HOSTS="+strings.Join(pairs, ","))
	}
	return env
}

// specHash hashes the configuration that matters for drift. JSON of these
// structs is deterministic (map keys are sorted).
func specHash(s NodeSpec) string {
	return digest.JSON(struct {
		Name       string
		Config     *container.Config
		Host       *container.HostConfig
		Networking *network.NetworkingConfig
		Volume     volume.CreateOptions
	}{s.Name, s.Config, s.Host, s.Networking, s.Volume}, digest.Label)
}

// ClusterNetwork is the user-defined bridge of a cluster. Without a subnet
// the engine picks a free one (ensureNetwork then fixes it: only a network
// made with a subnet takes fixed addresses), so clusters never clash; a
// user-set subnet that clashes is refused by the engine with a clear error.
func ClusterNetwork(c runtime.Cluster) (string, network.CreateOptions) {
	opts := network.CreateOptions{
		Driver: "bridge",
		Labels: map[string]string{LabelCluster: c.Name, LabelFixedAddresses: "true"},
	}
	if c.Subnet != "" {
		opts.IPAM = &network.IPAM{Config: []network.IPAMConfig{{Subnet: c.Subnet}}}
	}
	return c.Network, opts
}

func joinRoles(roles []model.Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}
