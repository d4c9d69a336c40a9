// Package images names every image a cluster runs and pins the versions the
// tool builds them from. It is the one place versions are written down: the
// DSL's defaults, the plan and the image builder all read it.
package images

import (
	"fmt"
	"slices"
	"strings"
)

// Repository is the prefix of every image this tool builds itself. No
// registry is ever contacted: the images exist only in local engines.
const Repository = "docker-rke"

// Release pins one buildable Kubernetes release and the versions of the
// components built to go with it.
type Release struct {
	Kubernetes string // k8s.io/kubernetes module version, e.g. v1.37.2
	Staging    string // version of the k8s.io/* staging modules it replaces
	Etcd       string // go.etcd.io/etcd/server/v3
	CoreDNS    string // github.com/coredns/coredns
	CNIPlugins string // github.com/containernetworking/plugins
	Pause      string // our own pause binary, versioned like upstream's
	// Containerd is github.com/containerd/containerd/v2: every node's
	// container runtime (Debian bookworm's 1.6 is past its support, and
	// image volumes need 2.1 or later).
	Containerd string
}

// releases are the Kubernetes versions this tool knows how to build, newest
// first: the newest patch of each of the three newest minor releases the
// Go module proxy serves. The kubelet of each still runs on cgroup v1
// hosts (such as the machines this project is built on) when told
// failCgroupV1: false.
//
// Their components, against what kubeadm of each release pairs it with:
// etcd is the newest patch of the minor kubeadm pairs (v1.35 and v1.36:
// 3.6.6 and 3.6.8, so v3.6.16; v1.37: 3.7.0, so v3.7.3), each etcd minor
// built from its own go.mod (_recipes/etcd/v3.N/), an upgrade to v1.37
// taking the members from 3.6 to 3.7 one at a time; CoreDNS is v1.14.7 for all three (kubeadm pairs v1.35 with
// v1.13.1, which the module proxy does not serve, and v1.36 and v1.37
// with v1.14.2 and v1.14.6); pause is docker rke's own program; containerd
// and the CNI plugins are the node's, the same for every release.
var releases = []Release{
	{
		Kubernetes: "v1.37.2",
		Staging:    "v0.37.2",
		Etcd:       "v3.7.3",
		CoreDNS:    "v1.14.7",
		CNIPlugins: "v1.10.0",
		Pause:      "3.10",
		Containerd: "v2.4.2",
	},
	{
		Kubernetes: "v1.36.3",
		Staging:    "v0.36.3",
		Etcd:       "v3.6.16",
		CoreDNS:    "v1.14.7",
		CNIPlugins: "v1.10.0",
		Pause:      "3.10",
		Containerd: "v2.4.2",
	},
	{
		Kubernetes: "v1.35.4",
		Staging:    "v0.35.4",
		Etcd:       "v3.6.16",
		CoreDNS:    "v1.14.7",
		CNIPlugins: "v1.10.0",
		Pause:      "3.10",
		Containerd: "v2.4.2",
	},
}

// DefaultKubernetesVersion is what a cluster runs when its definition does
// not say.
func DefaultKubernetesVersion() string { return releases[0].Kubernetes }

// Lookup returns the release for a Kubernetes version. It accepts RKE's
// decorated form ("v1.37.2-rancher1-1") and a missing "v" so that RKE
// cluster.yml files work unchanged.
func Lookup(version string) (Release, error) {
	want := NormalizeVersion(version)
	for _, r := range releases {
		if r.Kubernetes == want {
			return r, nil
		}
	}
	return Release{}, fmt.Errorf("kubernetes version %q cannot be built (buildable: %s)", version, strings.Join(KubernetesVersions(), ", "))
}

// NormalizeVersion strips RKE's "-rancherN-M" suffix and adds a leading "v".
func NormalizeVersion(version string) string {
	v := strings.TrimSpace(version)
	if i := strings.Index(v, "-rancher"); i > 0 {
		v = v[:i]
	}
	if v != "" && !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	return v
}

// KubernetesVersions lists the buildable versions, oldest first.
func KubernetesVersions() []string {
	out := make([]string, 0, len(releases))
	for _, r := range slices.Backward(releases) {
		out = append(out, r.Kubernetes)
	}
	return out
}

// Releases are the buildable releases, newest first.
func Releases() []Release { return slices.Clone(releases) }

// Component image names. Kubernetes is one multi-call image (hyperkube
// style): every control-plane and node component runs from it.
const (
	Kubernetes = "kubernetes"
	Etcd       = "etcd"
	CoreDNS    = "coredns"
	Pause      = "pause"
	CNI        = "cni"
	Runtime    = "runtime"
	Tools      = "tools"
	Containerd = "containerd"
)

// Set is the image reference of every component of one cluster.
type Set struct {
	Kubernetes string `json:"kubernetes"`
	Etcd       string `json:"etcd"`
	CoreDNS    string `json:"coredns"`
	Pause      string `json:"pause"`
	CNI        string `json:"cni"`
	// Runtime is the slim image components run from inside nodes.
	Runtime string `json:"runtime"`
	// Tools holds docker rke's own node program (API proxy, probes).
	Tools string `json:"tools"`
	// Containerd is the container runtime the node image carries.
	Containerd string `json:"containerd"`
}

// Defaults returns the image references the tool builds for a release.
func (r Release) Defaults() Set {
	return Set{
		Kubernetes: ref(Kubernetes, r.Kubernetes),
		Etcd:       ref(Etcd, r.Etcd),
		CoreDNS:    ref(CoreDNS, r.CoreDNS),
		Pause:      ref(Pause, r.Pause),
		CNI:        ref(CNI, r.CNIPlugins),
		Runtime:    ref(Runtime, r.Kubernetes),
		Tools:      ref(Tools, r.Kubernetes),
		Containerd: ref(Containerd, r.Containerd),
	}
}

// Override replaces the references that o sets, leaving the rest.
func (s Set) Override(o Set) Set {
	pick := func(a, b string) string {
		if b != "" {
			return b
		}
		return a
	}
	return Set{
		Kubernetes: pick(s.Kubernetes, o.Kubernetes),
		Etcd:       pick(s.Etcd, o.Etcd),
		CoreDNS:    pick(s.CoreDNS, o.CoreDNS),
		Pause:      pick(s.Pause, o.Pause),
		CNI:        pick(s.CNI, o.CNI),
		Runtime:    pick(s.Runtime, o.Runtime),
		Tools:      pick(s.Tools, o.Tools),
		Containerd: pick(s.Containerd, o.Containerd),
	}
}

func ref(name, tag string) string { return Repository + "/" + name + ":" + tag }
