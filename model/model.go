// Package model is the one cluster model that every front end fills: Go
// cluster scripts (dsl) and RKE cluster.yml files (dsl/rkeyaml). Validation
// and the node plan only ever see this model, so both front ends behave the
// same way and report errors the same way.
package model

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"time"
)

// Role is what a node does in its cluster, as in RKE.
type Role string

// The three RKE roles. A node may carry any combination of them.
const (
	RoleControlPlane Role = "controlplane"
	RoleEtcd         Role = "etcd"
	RoleWorker       Role = "worker"
)

// Roles lists every known role in the order RKE prints them.
var knownRoles = [...]Role{RoleControlPlane, RoleEtcd, RoleWorker}

// KnownRoles returns every role a node can carry.
func KnownRoles() []Role { return knownRoles[:] }

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool {
	for _, k := range knownRoles {
		if r == k {
			return true
		}
	}
	return false
}

// Taint is a Kubernetes node taint.
type Taint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"`
}

func (t Taint) String() string {
	if t.Value == "" {
		return t.Key + ":" + t.Effect
	}
	return t.Key + "=" + t.Value + ":" + t.Effect
}

// UnmarshalJSON also reads kubectl's form, which plans kept before taints
// had fields (a cluster's state keeps its plan).
func (t *Taint) UnmarshalJSON(data []byte) error {
	var s string
	if json.Unmarshal(data, &s) == nil {
		parsed, err := ParseTaint(s)
		*t = parsed
		return err
	}
	type plain Taint
	return json.Unmarshal(data, (*plain)(t))
}

// ParseTaint reads kubectl's "key=value:Effect" or "key:Effect" form.
func ParseTaint(s string) (Taint, error) {
	kv, effect, ok := strings.Cut(s, ":")
	if !ok {
		return Taint{}, fmt.Errorf("taint %q: want key=value:Effect", s)
	}
	k, v, _ := strings.Cut(kv, "=")
	return Taint{Key: k, Value: v, Effect: effect}, nil
}

// Node is one Docker-in-Docker node of a cluster.
type Node struct {
	// Name is the node's hostname and Kubernetes node name.
	Name   string            `json:"name"`
	Roles  []Role            `json:"roles"`
	Labels map[string]string `json:"labels,omitempty"`
	Taints []Taint           `json:"taints,omitempty"`
	// Image overrides the cluster's node image for this node.
	Image string `json:"image,omitempty"`
	// Ports publish ports of the node on the engine's host (kind's
	// extraPortMappings), e.g. a NodePort Service or a hostPort.
	Ports []Port `json:"ports,omitempty"`
	// Mounts bind folders of the engine's host into the node (kind's
	// extraMounts), for hostPath volumes.
	Mounts []Mount `json:"mounts,omitempty"`
}

// Protocol is a port's transport protocol.
type Protocol string

// The protocols a port can be published with.
const (
	ProtocolTCP Protocol = "tcp"
	ProtocolUDP Protocol = "udp"
)

// Port publishes one port of a node on the engine's host.
type Port struct {
	// HostPort is the port on the engine's host; NodePort the node's.
	HostPort int      `json:"hostPort"`
	NodePort int      `json:"nodePort"`
	Protocol Protocol `json:"protocol,omitempty"`
	// HostIP is the host address the port listens on: DefaultHostIP
	// unless the definition asks for more (0.0.0.0 is every address,
	// the network included).
	HostIP string `json:"hostIP,omitempty"`
}

func (p Port) String() string {
	return fmt.Sprintf("%s->%d/%s", net.JoinHostPort(p.HostIP, fmt.Sprint(p.HostPort)), p.NodePort, p.Protocol)
}

// Mount binds a folder (or file) of the engine's host into a node.
type Mount struct {
	// HostPath is absolute once defaults are applied: a relative path in
	// a definition is relative to the definition's folder.
	HostPath string `json:"hostPath"`
	NodePath string `json:"nodePath"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// HasRole reports whether the node carries role r.
func (n Node) HasRole(r Role) bool {
	for _, have := range n.Roles {
		if have == r {
			return true
		}
	}
	return false
}

// Service holds RKE-style per-component customisation (RKE's services.*).
type Service struct {
	ExtraArgs  map[string]string `json:"extraArgs,omitempty"`
	ExtraBinds []string          `json:"extraBinds,omitempty"`
	ExtraEnv   []string          `json:"extraEnv,omitempty"`
}

// Component names, shared by the model's Services map and the plan.
const (
	ComponentEtcd              = "etcd"
	ComponentAPIServer         = "kube-apiserver"
	ComponentControllerManager = "kube-controller-manager"
	ComponentScheduler         = "kube-scheduler"
	ComponentKubelet           = "kubelet"
	ComponentKubeProxy         = "kube-proxy"
)

// Images overrides the image of a component (RKE's system_images). Empty
// fields keep the image the tool builds.
type Images struct {
	Kubernetes string `json:"kubernetes,omitempty"`
	Etcd       string `json:"etcd,omitempty"`
	CoreDNS    string `json:"coredns,omitempty"`
	Pause      string `json:"pause,omitempty"`
	CNI        string `json:"cni,omitempty"`
}

// Cluster is one cluster definition.
type Cluster struct {
	Name              string `json:"name"`
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	NodeImage         string `json:"nodeImage,omitempty"`
	// Subnet is the node network's range; empty lets the engine pick one
	// that clashes with nothing.
	Subnet string `json:"subnet,omitempty"`
	// EtcdSnapshots are recurring snapshots on every etcd node (RKE's
	// services.etcd.backup_config); nil: none.
	EtcdSnapshots *EtcdSnapshots `json:"etcdSnapshots,omitempty"`
	// RegistryMirrors are the registries the nodes' containerd asks first
	// for images of other registries, in order, for clusters that pull.
	RegistryMirrors []RegistryMirror `json:"registryMirrors,omitempty"`
	// ImageRegistry is where up pulls the release's node image from when
	// the engine lacks it, instead of building it (docker rke images push
	// put it there): a registry name and an optional path, e.g.
	// "registry.lab:5000/team". RKE's private_registries is_default.
	ImageRegistry string `json:"imageRegistry,omitempty"`
	PodCIDR       string `json:"podCIDR,omitempty"`
	ServiceCIDR   string `json:"serviceCIDR,omitempty"`
	ClusterDomain string `json:"clusterDomain,omitempty"`
	ClusterDNS    string `json:"clusterDNS,omitempty"`
	// PodSecurity is the Pod Security Standard enforced in every
	// namespace but kube-system, unless the namespace's own
	// pod-security.kubernetes.io labels say otherwise.
	PodSecurity string             `json:"podSecurity,omitempty"`
	Images      Images             `json:"images,omitempty"`
	Services    map[string]Service `json:"services,omitempty"`
	Nodes       []Node             `json:"nodes"`
}

// Definition is everything one file defines.
type Definition struct {
	// File is the path the user gave, used in every message.
	File     string    `json:"file"`
	Clusters []Cluster `json:"clusters"`
}

// Pod Security Standards levels.
const (
	PodSecurityPrivileged = "privileged"
	PodSecurityBaseline   = "baseline"
	PodSecurityRestricted = "restricted"
)

// Defaults, chosen to match RKE's so that cluster.yml files mean the same.
const (
	DefaultPodCIDR       = "10.42.0.0/16"
	DefaultServiceCIDR   = "10.43.0.0/16"
	DefaultClusterDomain = "cluster.local"
	// DefaultPodSecurity makes a privileged pod, a host path or a host
	// port an explicit choice: a namespace labelled for it, or the
	// cluster's level set to privileged.
	DefaultPodSecurity = PodSecurityBaseline
	// DefaultHostIP keeps published ports on the host's loopback: nothing
	// on the network reaches a cluster unless the definition says so.
	DefaultHostIP = "127.0.0.1"
)

// Limits. A laptop runs a handful of nodes; these stop a runaway loop in a
// script long before it exhausts the machine.
const (
	MaxNodesPerCluster = 100
	MaxNodes           = 2000
	MaxClusters        = 500
	// MaxClusterNameLen leaves room for the prefixes and suffixes the tool
	// adds to container, network and volume names (rke-dind-<cluster>-<node>).
	MaxClusterNameLen = 40
)

// DockerHub is the registry name of Docker Hub's images ("nginx" is
// docker.io/library/nginx), the one a mirror serves when it names none.
const DockerHub = "docker.io"

// RegistryMirror is a registry that serves the images of other registries,
// such as a lab registry holding copies of registry.k8s.io's images.
type RegistryMirror struct {
	// URL is where the mirror answers, http or https:
	// "http://10.0.0.1:5000".
	URL string `json:"url"`
	// Registries are the registries it mirrors, by the name images carry:
	// "registry.k8s.io", "quay.io", "registry.lab:5000". None means
	// Docker Hub.
	Registries []string `json:"registries,omitempty"`
}

// Mirrored returns the registries m mirrors: Docker Hub when it names none.
func (m RegistryMirror) Mirrored() []string {
	if len(m.Registries) == 0 {
		return []string{DockerHub}
	}
	return m.Registries
}

// EtcdSnapshots are an etcd node's recurring snapshots: one when it
// starts, then one every Interval, the newest Retention kept on the node.
type EtcdSnapshots struct {
	Interval  time.Duration `json:"interval"`
	Retention int           `json:"retention"`
}

// Bounds of recurring etcd snapshots.
const (
	MinSnapshotInterval = time.Minute
	MaxSnapshotInterval = 30 * 24 * time.Hour
	MaxSnapshotsKept    = 1000
)
