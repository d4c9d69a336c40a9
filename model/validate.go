package model

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/distribution/reference"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/docker-rke/docker-rke/images"
)

// ApplyDefaults fills every field the definition left empty with the value
// RKE would use. It never overwrites what the user set.
func (d *Definition) ApplyDefaults() {
	for i := range d.Clusters {
		c := &d.Clusters[i]
		if c.KubernetesVersion == "" {
			c.KubernetesVersion = images.DefaultKubernetesVersion()
		}
		if c.PodCIDR == "" {
			c.PodCIDR = DefaultPodCIDR
		}
		if c.ServiceCIDR == "" {
			c.ServiceCIDR = DefaultServiceCIDR
		}
		if c.ClusterDomain == "" {
			c.ClusterDomain = DefaultClusterDomain
		}
		if c.PodSecurity == "" {
			c.PodSecurity = DefaultPodSecurity
		}
		for j := range c.Nodes {
			d.nodeDefaults(&c.Nodes[j])
		}
	}
}

// nodeDefaults fills a node's port protocols and addresses, and makes its
// mounts' host paths absolute: relative to the definition's folder, so a
// definition means the same whichever folder docker rke runs in.
func (d *Definition) nodeDefaults(n *Node) {
	for i := range n.Ports {
		p := &n.Ports[i]
		if p.Protocol == "" {
			p.Protocol = ProtocolTCP
		}
		if p.HostIP == "" {
			p.HostIP = DefaultHostIP
		}
	}
	for i := range n.Mounts {
		m := &n.Mounts[i]
		if m.HostPath == "" || filepath.IsAbs(m.HostPath) {
			continue
		}
		if abs, err := filepath.Abs(filepath.Join(filepath.Dir(d.File), m.HostPath)); err == nil {
			m.HostPath = abs
		}
	}
}

// Check applies the defaults, validates the definition and checks what it
// names on this machine (mounts' host paths), and returns every problem
// with its subject filled: what both front ends do before they locate the
// problems in their files.
func (d *Definition) Check() Problems {
	d.ApplyDefaults()
	problems := d.Validate()
	problems = append(problems, d.checkHostPaths(os.Stat)...)
	d.Describe(problems)
	return problems
}

// checkHostPaths reports mounts whose host path does not exist. (A bind
// of a missing path would fail at up, after nodes were made.)
func (d *Definition) checkHostPaths(stat func(string) (fs.FileInfo, error)) Problems {
	v := validator{}
	for ci, c := range d.Clusters {
		for ni, n := range c.Nodes {
			for i, m := range n.Mounts {
				if !filepath.IsAbs(m.HostPath) {
					continue // Validate reports it
				}
				if _, err := stat(m.HostPath); err != nil {
					v.errf(Ref{Cluster: ci, Node: ni, Field: fmt.Sprintf("mounts[%d]", i)}, "", "host path %s: %v", m.HostPath, unwrapPathError(err))
				}
			}
		}
	}
	return v.problems
}

// unwrapPathError drops the path an fs.PathError repeats.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ContainerName is the name of a node's container on the outer engine,
// rke-dind-<cluster>-<node> as in RKE's DIND mode. Node names that already
// start with the cluster name (cluster1-node1) are not doubled.
func ContainerName(cluster, node string) string {
	return "rke-dind-" + cluster + "-" + strings.TrimPrefix(node, cluster+"-")
}

// Validate checks the whole definition and returns every problem found.
// Call ApplyDefaults first.
func (d *Definition) Validate() Problems {
	v := validator{}
	if len(d.Clusters) == 0 {
		v.errf(Ref{Cluster: -1, Node: -1}, "", "defines no cluster")
	}
	if len(d.Clusters) > MaxClusters {
		v.errf(Ref{Cluster: MaxClusters, Node: -1}, "", "too many clusters: %d, the limit is %d", len(d.Clusters), MaxClusters)
	}
	clusterNames := map[string]int{}
	containers := map[string]Ref{}
	hostPorts := hostPortTable{}
	total := 0
	for ci, c := range d.Clusters {
		cref := Ref{Cluster: ci, Node: -1}
		v.clusterName(cref, c.Name)
		if prev, dup := clusterNames[c.Name]; dup && c.Name != "" {
			v.errf(cref.field("name"), "", "duplicate cluster name %q (first defined as cluster #%d)", c.Name, prev+1)
		} else {
			clusterNames[c.Name] = ci
		}
		if _, err := images.Lookup(c.KubernetesVersion); err != nil {
			v.errf(cref.field("kubernetesVersion"), "", "%v", err)
		}
		v.cidrs(cref, c)
		v.clusterValues(cref, c)
		v.services(cref, c.Services)
		v.registryMirrors(cref, c.RegistryMirrors)
		if c.ImageRegistry != "" {
			v.imageRegistry(cref.field("imageRegistry"), c.ImageRegistry)
		}
		if s := c.EtcdSnapshots; s != nil {
			if s.Interval < MinSnapshotInterval || s.Interval > MaxSnapshotInterval {
				v.errf(cref.field("etcdSnapshots"), "", "etcd snapshots every %s: want between %s and %s", s.Interval, MinSnapshotInterval, MaxSnapshotInterval)
			}
			if s.Retention < 1 || s.Retention > MaxSnapshotsKept {
				v.errf(cref.field("etcdSnapshots"), "", "etcd snapshots: keep %d: want 1 to %d", s.Retention, MaxSnapshotsKept)
			}
		}

		total += len(c.Nodes)
		switch {
		case len(c.Nodes) == 0:
			v.errf(cref.field("nodes"), "", "cluster has no nodes")
		case len(c.Nodes) > MaxNodesPerCluster:
			v.errf(Ref{Cluster: ci, Node: MaxNodesPerCluster, Field: "nodes"}, "", "too many nodes: %d, the limit is %d per cluster", len(c.Nodes), MaxNodesPerCluster)
			continue // per-node checks of thousands of nodes would only bury this
		}
		if total > MaxNodes {
			v.errf(cref.field("nodes"), "", "too many nodes in the file: %d, the limit is %d", total, MaxNodes)
		}

		nodeNames := map[string]int{}
		counts := map[Role]int{}
		for ni, n := range c.Nodes {
			nref := Ref{Cluster: ci, Node: ni}
			v.nodeName(nref, n.Name)
			if prev, dup := nodeNames[n.Name]; dup && n.Name != "" {
				v.errf(nref.field("name"), "", "duplicate node name %q (first defined as node #%d)", n.Name, prev+1)
			} else {
				nodeNames[n.Name] = ni
			}
			if c.Name != "" && n.Name != "" {
				cn := ContainerName(c.Name, n.Name)
				if prev, dup := containers[cn]; dup && prev.Cluster != ci {
					v.errf(nref.field("name"), "", "container name %s is also the name of a node of cluster %q", cn, d.Clusters[prev.Cluster].Name)
				} else if !dup {
					containers[cn] = nref
				}
			}
			v.roles(nref, n.Roles)
			for _, r := range uniqueRoles(n.Roles) {
				counts[r]++
			}
			v.labels(nref, n.Labels)
			v.taints(nref, n.Taints)
			if n.Image != "" {
				v.imageRef(nref.field("image"), n.Image)
			}
			v.ports(nref, n.Ports, hostPorts, d)
			v.mounts(nref, n.Mounts)
		}
		for _, r := range knownRoles {
			if counts[r] == 0 {
				v.errf(cref.field("nodes"), "", "no node has the %s role; every cluster needs at least one %s node (a node may carry all roles)", r, r)
			}
		}
		if n := counts[RoleEtcd]; n > 0 && n%2 == 0 {
			v.warnf(cref.field("nodes"), "", "%d etcd nodes: an even count tolerates no more failures than %d; use an odd number", n, n-1)
		}
	}
	return v.problems
}

func (r Ref) field(f string) Ref { r.Field = f; return r }

type validator struct{ problems Problems }

func (v *validator) errf(r Ref, field, format string, args ...any) {
	v.problems = append(v.problems, Problem{Ref: r, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) warnf(r Ref, field, format string, args ...any) {
	v.problems = append(v.problems, Problem{Ref: r, Field: field, Warning: true, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) clusterName(r Ref, name string) {
	r = r.field("name")
	switch {
	case name == "":
		v.errf(r, "", "cluster name is empty")
	case len(name) > MaxClusterNameLen:
		v.errf(r, "", "cluster name %q is %d characters long; the limit is %d (it prefixes container, network and volume names)", name, len(name), MaxClusterNameLen)
	default:
		for _, msg := range validation.IsDNS1123Label(name) {
			v.errf(r, "", "cluster name %q: %s", name, msg)
		}
	}
}

func (v *validator) nodeName(r Ref, name string) {
	r = r.field("name")
	if name == "" {
		v.errf(r, "", "node name is empty")
		return
	}
	for _, msg := range validation.IsDNS1123Label(name) {
		v.errf(r, "", "node name %q is not a valid hostname: %s", name, msg)
	}
}

func (v *validator) roles(r Ref, roles []Role) {
	r = r.field("roles")
	if len(roles) == 0 {
		v.errf(r, "", "node has no roles (want any of controlplane, etcd, worker)")
		return
	}
	seen := map[Role]bool{}
	for _, role := range roles {
		if !role.Valid() {
			v.errf(r, "", "unknown role %q (want controlplane, etcd or worker)", role)
			continue
		}
		if seen[role] {
			v.warnf(r, "", "role %s is listed twice", role)
		}
		seen[role] = true
	}
}

func uniqueRoles(roles []Role) []Role {
	seen := map[Role]bool{}
	var out []Role
	for _, r := range roles {
		if r.Valid() && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

func (v *validator) labels(r Ref, labels map[string]string) {
	for _, k := range sortedKeys(labels) {
		fr := r.field("labels[" + k + "]")
		for _, msg := range validation.IsQualifiedName(k) {
			v.errf(fr, "", "label key %q: %s", k, msg)
		}
		for _, msg := range validation.IsValidLabelValue(labels[k]) {
			v.errf(fr, "", "label value %q: %s", labels[k], msg)
		}
	}
}

var taintEffects = []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}

func (v *validator) taints(r Ref, taints []Taint) {
	for i, t := range taints {
		fr := r.field(fmt.Sprintf("taints[%d]", i))
		if t.Key == "" {
			v.errf(fr, "", "taint %q has no key", t.String())
		}
		for _, msg := range validation.IsQualifiedName(t.Key) {
			if t.Key != "" {
				v.errf(fr, "", "taint key %q: %s", t.Key, msg)
			}
		}
		for _, msg := range validation.IsValidLabelValue(t.Value) {
			v.errf(fr, "", "taint value %q: %s", t.Value, msg)
		}
		ok := false
		for _, e := range taintEffects {
			ok = ok || t.Effect == e
		}
		if !ok {
			v.errf(fr, "", "taint effect %q is not one of %s", t.Effect, strings.Join(taintEffects, ", "))
		}
	}
}

// cidrs checks the pod and service ranges: both valid IPv4 prefixes, not
// overlapping, and big enough for a /24 per node and for the cluster DNS IP.
func (v *validator) cidrs(r Ref, c Cluster) {
	pod, podErr := parsePrefix(c.PodCIDR)
	if podErr != nil {
		v.errf(r.field("podCIDR"), "", "%v", podErr)
	}
	svc, svcErr := parsePrefix(c.ServiceCIDR)
	if svcErr != nil {
		v.errf(r.field("serviceCIDR"), "", "%v", svcErr)
	}
	if podErr == nil && svcErr == nil && pod.Overlaps(svc) {
		v.errf(r.field("serviceCIDR"), "", "service CIDR %s overlaps pod CIDR %s", svc, pod)
	}
	if c.Subnet != "" {
		v.subnet(r, c, pod, podErr, svc, svcErr)
	}
	if podErr == nil {
		if pod.Bits() > 24 {
			v.errf(r.field("podCIDR"), "", "pod CIDR %s is smaller than a /24; each node gets a /24 of it", pod)
		} else if capacity := 1 << (24 - pod.Bits()); len(c.Nodes) > capacity {
			v.errf(r.field("podCIDR"), "", "pod CIDR %s has room for %d nodes (a /24 each), the cluster has %d", pod, capacity, len(c.Nodes))
		}
	}
	if svcErr == nil {
		if svc.Bits() > 28 {
			v.errf(r.field("serviceCIDR"), "", "service CIDR %s is too small; use /28 or larger", svc)
		}
		if c.ClusterDNS != "" {
			ip, err := netip.ParseAddr(c.ClusterDNS)
			switch {
			case err != nil:
				v.errf(r.field("clusterDNS"), "", "cluster DNS %q is not an IP address", c.ClusterDNS)
			case !svc.Contains(ip):
				v.errf(r.field("clusterDNS"), "", "cluster DNS %s is outside the service CIDR %s", ip, svc)
			}
		}
	}
}

// subnet checks the node network's range: room for every node and the
// gateway, and no overlap with the pod and service ranges that are routed
// inside the nodes.
func (v *validator) subnet(r Ref, c Cluster, pod netip.Prefix, podErr error, svc netip.Prefix, svcErr error) {
	sub, err := parsePrefix(c.Subnet)
	if err != nil {
		v.errf(r.field("subnet"), "", "%v", err)
		return
	}
	if room := (1 << (32 - sub.Bits())) - 3; room < len(c.Nodes) { // network, broadcast, gateway
		v.errf(r.field("subnet"), "", "subnet %s has room for %d nodes, the cluster has %d", sub, max(room, 0), len(c.Nodes))
	}
	if podErr == nil && sub.Overlaps(pod) {
		v.errf(r.field("subnet"), "", "subnet %s overlaps pod CIDR %s", sub, pod)
	}
	if svcErr == nil && sub.Overlaps(svc) {
		v.errf(r.field("subnet"), "", "subnet %s overlaps service CIDR %s", sub, svc)
	}
}

func parsePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR (want e.g. 10.42.0.0/16)", s)
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("%s: only IPv4 ranges are supported", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%s has host bits set; did you mean %s?", s, p.Masked())
	}
	return p, nil
}

var knownServices = []string{ComponentEtcd, ComponentAPIServer, ComponentControllerManager, ComponentScheduler, ComponentKubelet, ComponentKubeProxy}

func (v *validator) services(r Ref, services map[string]Service) {
	for _, name := range sortedKeys(services) {
		known := false
		for _, k := range knownServices {
			known = known || k == name
		}
		if !known {
			v.errf(r.field("services["+name+"]"), "", "unknown component %q (want one of %s)", name, strings.Join(knownServices, ", "))
			continue
		}
		args := r.field("services[" + name + "].extraArgs")
		for _, k := range sortedKeys(services[name].ExtraArgs) {
			val := services[name].ExtraArgs[k]
			switch {
			case k == "" || strings.HasPrefix(k, "-"):
				v.errf(args, "", "flag name %q: write it without leading dashes", k)
			case !flagName.MatchString(k):
				v.errf(args, "", "flag name %q: want letters, digits and dashes, such as v or feature-gates", k)
			case hasControl(val):
				v.errf(args, "", "flag %s: its value has a control character (%q)", k, val)
			default:
				if why := weakens(name, k, val); why != "" {
					v.warnf(args, "", "%s=%s %s", k, val, why)
				}
			}
		}
		for _, b := range services[name].ExtraBinds {
			if parts := strings.Split(b, ":"); len(parts) < 2 || len(parts) > 3 || !strings.HasPrefix(parts[0], "/") || !strings.HasPrefix(parts[1], "/") || hasControl(b) {
				v.errf(r.field("services["+name+"].extraBinds"), "", "bind %q: want /host/path:/container/path[:options]", b)
			}
		}
		for _, e := range services[name].ExtraEnv {
			if k, val, ok := strings.Cut(e, "="); !ok || !envName.MatchString(k) || hasControl(val) {
				v.errf(r.field("services["+name+"].extraEnv"), "", "env %q: want NAME=value, NAME of letters, digits and _", e)
			}
		}
	}
}

// flagName and envName are what a flag's and an environment variable's
// names may be.
var (
	flagName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-]*$`)
	envName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// hasControl says whether s has a control character (a newline among
// them): values go into flags, config files and certificates, where one
// could inject a line of its own.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, unicode.IsControl)
}

// clusterValues checks the cluster's values that reach config files and
// certificates: its DNS domain (the Corefile, the service account
// issuer, the API server's names) and its images.
func (v *validator) clusterValues(r Ref, c Cluster) {
	if msgs := validation.IsDNS1123Subdomain(c.ClusterDomain); len(msgs) > 0 {
		v.errf(r.field("clusterDomain"), "", "cluster domain %q: %s", c.ClusterDomain, strings.Join(msgs, "; "))
	}
	switch c.PodSecurity {
	case PodSecurityPrivileged, PodSecurityBaseline, PodSecurityRestricted:
	default:
		v.errf(r.field("podSecurity"), "", "pod security level %q: want %s, %s or %s", c.PodSecurity, PodSecurityPrivileged, PodSecurityBaseline, PodSecurityRestricted)
	}
	if c.NodeImage != "" {
		v.imageRef(r.field("nodeImage"), c.NodeImage)
	}
	for _, img := range []struct{ field, ref string }{
		{"images.kubernetes", c.Images.Kubernetes}, {"images.etcd", c.Images.Etcd}, {"images.coredns", c.Images.CoreDNS},
		{"images.pause", c.Images.Pause}, {"images.cni", c.Images.CNI},
	} {
		if img.ref != "" {
			v.imageRef(r.field(img.field), img.ref)
		}
	}
}

// registryMirrors checks each mirror's URL and the registry names it
// serves. Both end up in the nodes' containerd configuration (hosts.toml),
// so only plain URLs and registry names pass: no quotes, spaces or paths.
func (v *validator) registryMirrors(r Ref, mirrors []RegistryMirror) {
	for i, m := range mirrors {
		field := r.field(fmt.Sprintf("registryMirrors[%d]", i))
		u, err := url.Parse(m.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(m.URL, ",= \"'\\") {
			v.errf(field, "", "registry mirror %q: want a URL such as https://mirror.example.com:5000 (http or https, a host and an optional port)", m.URL)
		}
		for _, reg := range m.Registries {
			if msg := RegistryNameProblem(reg); msg != "" {
				v.errf(field, "", "registry mirror %s: registry %q: %s", m.URL, reg, msg)
			}
		}
	}
}

// imageRegistry checks a registry images are pulled from.
func (v *validator) imageRegistry(r Ref, registry string) {
	if msg := ImageRegistryProblem(registry); msg != "" {
		v.errf(r, "", "image registry %q: %s", registry, msg)
	}
}

// ImageRegistryProblem says why registry cannot hold docker rke's images
// as REGISTRY/docker-rke/...: it must be a registry name, then optionally
// a path of repositories ("registry.lab:5000/team"). "" if it can.
func ImageRegistryProblem(registry string) string {
	host, path, _ := strings.Cut(registry, "/")
	if msg := RegistryNameProblem(host); msg != "" {
		return msg
	}
	if path != "" {
		if _, err := reference.ParseNormalizedNamed(registry + "/docker-rke/node"); err != nil || strings.HasSuffix(path, "/") {
			return "want a registry name and an optional path of lowercase names, e.g. registry.lab:5000/team"
		}
	}
	return ""
}

// RegistryNameProblem says why name is not a registry as image references
// name one, or "". Docker reads the first part of "registry.lab/app" as a
// registry only when it has a dot or a port or is localhost: "lab/app" is
// Docker Hub's image lab/app, so a mirror for "lab" would never be asked.
func RegistryNameProblem(name string) string {
	switch {
	case name == "index.docker.io" || name == "registry-1.docker.io":
		return "Docker Hub's images are named docker.io"
	case !anchoredDomain.MatchString(name):
		return "want a registry name such as registry.k8s.io or registry.lab:5000"
	case !strings.ContainsAny(name, ".:") && name != "localhost":
		return "images never name it: a first part without a dot or a port is a Docker Hub user (lab/app is docker.io/lab/app)"
	}
	return ""
}

// anchoredDomain matches a whole registry name, host and optional port.
var anchoredDomain = regexp.MustCompile(`^(?:` + reference.DomainRegexp.String() + `)$`)

// imageRef checks an image reference as docker reads one.
func (v *validator) imageRef(r Ref, ref string) {
	if _, err := reference.ParseNormalizedNamed(ref); err != nil {
		v.errf(r, "", "image %q: %v", ref, err)
	}
}

// weakens says how an extra flag weakens a component's security (a
// warning: a local cluster may want it on purpose), or "".
func weakens(component, flag, value string) string {
	v := strings.ToLower(value)
	switch {
	case flag == "anonymous-auth" && v == "true":
		return "lets anyone who reaches " + component + " in without credentials"
	case flag == "authorization-mode" && strings.Contains(v, "alwaysallow"):
		return "lets every client of " + component + " do everything"
	case (flag == "insecure-port" && v != "0") || flag == "insecure-bind-address":
		return "serves " + component + " on plain HTTP without authentication"
	case component == ComponentKubelet && flag == "read-only-port" && v != "0":
		return "serves the kubelet's pods and stats on plain HTTP without authentication"
	case component == ComponentEtcd && (flag == "client-cert-auth" || flag == "peer-client-cert-auth") && v == "false":
		return "lets any client that reaches etcd read and write the whole cluster"
	case component == ComponentEtcd && strings.Contains(flag, "urls") && strings.Contains(v, "http://") && !strings.Contains(flag, "metrics"):
		return "makes etcd talk plain HTTP"
	}
	return ""
}

// hostPortTable remembers which node maps each host port, across every
// cluster of a file: they all publish on the same engine's host.
type hostPortTable map[string][]hostPortUse

type hostPortUse struct {
	ref  Ref
	port Port
}

func hostPortKey(p Port) string { return fmt.Sprintf("%s/%d", p.Protocol, p.HostPort) }

func (v *validator) ports(r Ref, ports []Port, table hostPortTable, d *Definition) {
	for i, p := range ports {
		fr := r.field(fmt.Sprintf("ports[%d]", i))
		ok := true
		if p.HostPort < 1 || p.HostPort > 65535 {
			v.errf(fr, "", "host port %d: want 1-65535", p.HostPort)
			ok = false
		}
		if p.NodePort < 1 || p.NodePort > 65535 {
			v.errf(fr, "", "node port %d: want 1-65535", p.NodePort)
			ok = false
		}
		if p.Protocol != ProtocolTCP && p.Protocol != ProtocolUDP {
			v.errf(fr, "", "protocol %q: want tcp or udp", p.Protocol)
			ok = false
		}
		ip, err := netip.ParseAddr(p.HostIP)
		if err != nil {
			v.errf(fr, "", "host address %q is not an IP address (127.0.0.1, the default, or 0.0.0.0 for every address)", p.HostIP)
			ok = false
		}
		if !ok {
			continue
		}
		key := hostPortKey(p)
		for _, prev := range table[key] {
			prevIP, _ := netip.ParseAddr(prev.port.HostIP)
			// 0.0.0.0 (or ::) takes the port on every address.
			if prevIP == ip || prevIP.IsUnspecified() || ip.IsUnspecified() {
				v.errf(fr, "", "host port %s is already published by %s (%s)", net.JoinHostPort(p.HostIP, strconv.Itoa(p.HostPort))+"/"+string(p.Protocol), d.subject(prev.ref), prev.port)
				ok = false
				break
			}
		}
		if ok {
			table[key] = append(table[key], hostPortUse{ref: fr, port: p})
		}
	}
}

// reservedNodePaths are where a node keeps what it runs on: a mount there
// would hide it. Under the exact ones (/, /var, /etc ...) other mounts are
// fine, e.g. /var/data or /etc/myapp.
var (
	reservedNodeTrees = []string{"/proc", "/sys", "/dev", "/run", "/lib/modules", "/etc/kubernetes", "/etc/cni", "/etc/docker-rke", "/opt/docker-rke", "/opt/cni", "/var/lib/docker", "/var/lib/containerd", "/var/lib/kubelet", "/var/lib/rancher", "/var/log"}
	reservedNodePaths = []string{"/", "/var", "/var/lib", "/etc", "/usr", "/opt", "/tmp", "/bin", "/sbin", "/lib", "/lib64"}
)

func (v *validator) mounts(r Ref, mounts []Mount) {
	seen := map[string]int{}
	for i, m := range mounts {
		fr := r.field(fmt.Sprintf("mounts[%d]", i))
		if hasControl(m.HostPath) || hasControl(m.NodePath) {
			v.errf(fr, "", "mount %q:%q: a path has a control character", m.HostPath, m.NodePath)
			continue
		}
		if m.HostPath == "" {
			v.errf(fr, "", "host path is empty")
		} else if !filepath.IsAbs(m.HostPath) {
			v.errf(fr, "", "host path %q is not absolute", m.HostPath)
		}
		if !path.IsAbs(m.NodePath) || path.Clean(m.NodePath) != m.NodePath {
			v.errf(fr, "", "node path %q: want a clean absolute path such as /data", m.NodePath)
			continue
		}
		if reason := reservedNodePath(m.NodePath); reason != "" {
			v.errf(fr, "", "node path %s: %s", m.NodePath, reason)
			continue
		}
		if prev, dup := seen[m.NodePath]; dup {
			v.errf(fr, "", "node path %s is already mounted by mounts[%d]", m.NodePath, prev)
			continue
		}
		seen[m.NodePath] = i
	}
}

func reservedNodePath(p string) string {
	for _, tree := range reservedNodeTrees {
		if p == tree || strings.HasPrefix(p, tree+"/") {
			return fmt.Sprintf("the node keeps its own files in %s; mount somewhere else, such as /data", tree)
		}
	}
	for _, exact := range reservedNodePaths {
		if p == exact {
			return "would hide the node's own files; mount a folder below it, such as /data"
		}
	}
	return ""
}
