// Package dind runs a cluster's nodes: one Docker-in-Docker container per
// node on the engine of the current docker context, a network per cluster,
// and a tunnel to each node's own engine. Everything here is driven through
// the one docker client the command line created. Labels on the engine's
// objects are the only state: ls and rm read them, up converges to them.
package dind

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

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
	// CAP_SYS_RESOURCE, where privileged containers fail to start: every
	// capability but that one, and unconfined seccomp, AppArmor and
	// system paths (see shared/reference/host-facts.md).
	Capabilities Mode = "capabilities"
)

// NodeSpec is everything needed to create one node container.
type NodeSpec struct {
	Name       string
	Config     *container.Config
	Host       *container.HostConfig
	Networking *network.NetworkingConfig
	// Hash identifies the configuration; it is also in LabelSpec.
	Hash string
}

// NodeContainer translates a planned node into docker's container, host
// and network configuration, with its fixed address on the cluster network
// (none if empty). It is pure: no daemon is consulted.
func NodeContainer(c runtime.Cluster, n runtime.Node, mode Mode, address string) NodeSpec {
	cfg := &container.Config{
		Hostname: n.Hostname,
		Image:    n.Image,
		Env:      nodeEnv(c),
		Labels: map[string]string{
			LabelCluster:           c.Name,
			LabelNode:              n.Name,
			LabelRoles:             joinRoles(n.Roles),
			LabelKubernetesVersion: c.KubernetesVersion,
			LabelMode:              string(mode),
		},
	}
	host := bootHost(mode)
	host.NetworkMode = container.NetworkMode(c.Network)
	// unless-stopped: nodes come back with the engine, but a node the
	// user stopped stays stopped until the next up.
	host.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyUnlessStopped}
	if n.HasRole(model.RoleControlPlane) {
		// The API server on 127.0.0.1 of the engine's host, at a port
		// the engine picks: where container addresses cannot be reached
		// (Docker Desktop on macOS), the kubeconfig uses it. Loopback
		// only, so it is not exposed to the network.
		port := nat.Port(fmt.Sprintf("%d/tcp", runtime.APIServerPort))
		cfg.ExposedPorts = nat.PortSet{port: {}}
		host.PortBindings = nat.PortMap{port: {{HostIP: "127.0.0.1"}}}
	}
	endpoint := &network.EndpointSettings{Aliases: []string{n.Hostname}}
	if address != "" {
		endpoint.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: address}
	}
	netcfg := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{c.Network: endpoint}}
	spec := NodeSpec{Name: n.ContainerName, Config: cfg, Host: host, Networking: netcfg}
	spec.Hash = specHash(spec)
	cfg.Labels[LabelSpec] = spec.Hash
	return spec
}

// bootHost is what every node container needs to boot its engine.
func bootHost(mode Mode) *container.HostConfig {
	host := &container.HostConfig{
		// A private cgroup namespace roots the node's remounted cgroup
		// hierarchies at its own cgroup, so each node's kubelet sees only
		// its own tree and resource use is counted against the node.
		CgroupnsMode: container.CgroupnsModePrivate,
		Tmpfs:        map[string]string{"/run": "", "/tmp": ""},
		Binds:        []string{"/lib/modules:/lib/modules:ro"},
		// An anonymous volume for /var: the inner engine's overlay2 cannot
		// sit on the node's own overlay root file system. Not filled from
		// the image (the entrypoint lays out what a node needs), which
		// saves copying thousands of files at every node's start.
		Mounts: []mount.Mount{{Type: mount.TypeVolume, Target: "/var", VolumeOptions: &mount.VolumeOptions{NoCopy: true}}},
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
	if len(c.RegistryMirrors) > 0 {
		env = append(env, "DOCKER_RKE_REGISTRY_MIRRORS="+strings.Join(c.RegistryMirrors, ","))
	}
	return env
}

// specHash hashes the configuration that matters for drift. JSON of these
// structs is deterministic (map keys are sorted).
func specHash(s NodeSpec) string {
	data, err := json.Marshal(struct {
		Name       string
		Config     *container.Config
		Host       *container.HostConfig
		Networking *network.NetworkingConfig
	}{s.Name, s.Config, s.Host, s.Networking})
	if err != nil {
		panic(err) // plain data; cannot fail
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:16]
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
