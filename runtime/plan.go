// Package runtime turns a validated cluster model into the node plan: for
// every node its container, hostname, roles and labels, and the Kubernetes
// components it runs with their image, command, arguments, binds and
// environment. The plan is pure data, computed without a daemon, and the
// same definition always gives the same plan byte for byte. Everything that
// touches an engine only carries a plan out.
package runtime

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/docker-rke/docker-rke/images"
	"github.com/docker-rke/docker-rke/internal/fanout"
	"github.com/docker-rke/docker-rke/model"
)

// Plan is the node plan of every cluster in a definition.
type Plan struct {
	Clusters []Cluster `json:"clusters"`
}

// Cluster is the plan of one cluster.
type Cluster struct {
	Name              string `json:"name"`
	KubernetesVersion string `json:"kubernetesVersion"`
	Network           string `json:"network"`
	Subnet            string `json:"subnet,omitempty"`
	// Registries are the registries whose pulls go to mirrors first.
	Registries []RegistryHosts `json:"registries,omitempty"`
	NodeImage  string          `json:"nodeImage"`
	// ImageRegistry is where up pulls the node image of the release when
	// the engine lacks it, instead of building it; empty: build.
	ImageRegistry string     `json:"imageRegistry,omitempty"`
	PodCIDR       string     `json:"podCIDR"`
	ServiceCIDR   string     `json:"serviceCIDR"`
	ClusterDNS    string     `json:"clusterDNS"`
	ClusterDomain string     `json:"clusterDomain"`
	PodSecurity   string     `json:"podSecurity"`
	Images        images.Set `json:"images"`
	// DNS is the cluster's CoreDNS, applied through the API.
	DNS DNS `json:"dns"`
	// Probe runs the pods up uses to check a cluster (a DNS lookup) and
	// the tests use; they need no image from a registry.
	Probe PodImage `json:"probe"`
	Nodes []Node   `json:"nodes"`
}

// PodImage is an image pods run, and where its program comes from.
type PodImage struct {
	Image   string   `json:"image"`
	Command []string `json:"command,omitempty"`
	// HostBin is a directory of the node a pod mounts at the same path:
	// the binaries baked into the node image, run from the tiny pause
	// image instead of importing a big image into every node.
	HostBin string `json:"hostBin,omitempty"`
}

// DNS is the plan of CoreDNS.
type DNS struct {
	PodImage
	Replicas int32 `json:"replicas"`
}

// Node is the plan of one node container.
type Node struct {
	Name          string `json:"name"`
	ContainerName string `json:"containerName"`
	Hostname      string `json:"hostname"`
	Image         string `json:"image"`
	// KubernetesVersion is the release the node runs: the cluster's,
	// but while up upgrades a cluster node by node, the plan it carries
	// out for each step holds nodes of both releases.
	KubernetesVersion string            `json:"kubernetesVersion,omitempty"`
	Roles             []model.Role      `json:"roles"`
	Labels            map[string]string `json:"labels"`
	Taints            []model.Taint     `json:"taints,omitempty"`
	// Ports and Mounts are the node container's published ports and host
	// folders.
	Ports      []model.Port  `json:"ports,omitempty"`
	Mounts     []model.Mount `json:"mounts,omitempty"`
	Components []Component   `json:"components"`
}

// HasRole reports whether the node carries role r.
func (n Node) HasRole(r model.Role) bool {
	for _, have := range n.Roles {
		if have == r {
			return true
		}
	}
	return false
}

// Component is one process a node runs as a container of its own engine,
// RKE-style.
type Component struct {
	Name    string   `json:"name"`
	Image   string   `json:"image"`
	Command []string `json:"command"`
	Args    []string `json:"args"`
	Binds   []string `json:"binds,omitempty"`
	Env     []string `json:"env,omitempty"`
	// HostNetwork and HostPID share the node's namespaces, as RKE runs
	// every component.
	HostNetwork bool `json:"hostNetwork"`
	HostPID     bool `json:"hostPID,omitempty"`
	Privileged  bool `json:"privileged,omitempty"`
	// Health is polled until it answers; it never is a sleep.
	Health Health `json:"health"`
}

// clone is a copy of c that shares no slice with it, so that one node's
// plan can never change another's.
func (c Component) clone() Component {
	c.Command = slices.Clone(c.Command)
	c.Args = slices.Clone(c.Args)
	c.Binds = slices.Clone(c.Binds)
	c.Env = slices.Clone(c.Env)
	return c
}

// Health is how a component says it is up: a GET of URL on its node's
// loopback answers 200 with Body in it.
type Health struct {
	URL  string `json:"url"`
	Body string `json:"body,omitempty"`
	// ClusterCA: the component serves with a certificate of the cluster
	// CA, checked, and the admin's client certificate is presented (the
	// API server). The others serve with certificates of their own, not
	// checked: only their health is read.
	ClusterCA bool `json:"clusterCA,omitempty"`
}

// NodeCIDRMaskSize is the size of each node's block of the pod CIDR.
const NodeCIDRMaskSize = 24

// Ports the components listen on.
const (
	APIServerPort  = 6443
	EtcdClientPort = 2379
	EtcdPeerPort   = 2380
)

// Build computes the plan of a validated definition.
func Build(def *model.Definition) (*Plan, error) {
	// A release's node image name hashes its recipes: work it out once
	// per release, before the clusters, which are then planned at once
	// (each on its own: a file may hold hundreds).
	nodeImages := map[string]string{}
	for _, c := range def.Clusters {
		if rel, err := images.Lookup(c.KubernetesVersion); err == nil && nodeImages[rel.Kubernetes] == "" {
			nodeImages[rel.Kubernetes] = images.NodeImage(rel)
		}
	}
	p := &Plan{Clusters: make([]Cluster, len(def.Clusters))}
	err := fanout.Each(def.Clusters, func(i int, c model.Cluster) error {
		cp, err := buildCluster(c, nodeImages)
		if err != nil {
			return fmt.Errorf("%s: cluster %q: %w", def.File, c.Name, err)
		}
		p.Clusters[i] = cp
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// buildCluster plans one cluster; nodeImages (release -> node image) is
// only read.
func buildCluster(c model.Cluster, nodeImages map[string]string) (Cluster, error) {
	rel, err := images.Lookup(c.KubernetesVersion)
	if err != nil {
		return Cluster{}, err
	}
	dns := c.ClusterDNS
	if dns == "" {
		if dns, err = nthAddr(c.ServiceCIDR, 10); err != nil {
			return Cluster{}, err
		}
	}
	nodeImage := c.NodeImage
	if nodeImage == "" {
		nodeImage = nodeImages[rel.Kubernetes]
	}
	cp := Cluster{
		Name:              c.Name,
		KubernetesVersion: rel.Kubernetes,
		Network:           NetworkName(c.Name),
		Subnet:            c.Subnet,
		Registries:        registryHosts(c.RegistryMirrors),
		NodeImage:         nodeImage,
		ImageRegistry:     c.ImageRegistry,
		PodCIDR:           c.PodCIDR,
		ServiceCIDR:       c.ServiceCIDR,
		ClusterDNS:        dns,
		ClusterDomain:     c.ClusterDomain,
		PodSecurity:       c.PodSecurity,
		Images: rel.Defaults().Override(images.Set{
			Kubernetes: c.Images.Kubernetes, Etcd: c.Images.Etcd, CoreDNS: c.Images.CoreDNS, Pause: c.Images.Pause, CNI: c.Images.CNI,
		}),
	}
	ctx := clusterContext{model: c, plan: &cp, builtin: rel.Defaults()}
	for _, n := range c.Nodes {
		if n.HasRole(model.RoleEtcd) {
			ctx.etcd = append(ctx.etcd, n.Name)
		}
		if n.HasRole(model.RoleControlPlane) {
			ctx.controlPlanes = append(ctx.controlPlanes, n.Name)
		}
	}
	cp.DNS, cp.Probe = ctx.dns(), ctx.probe()
	ctx.controlPlane = []Component{ctx.apiServerComponent(), ctx.controllerManager(), ctx.scheduler()}
	ctx.apiProxy = ctx.apiProxyComponent()
	ctx.kubeletBase, ctx.kubeProxyBase = ctx.kubeletShared(), ctx.kubeProxyShared()
	for _, n := range c.Nodes {
		cp.Nodes = append(cp.Nodes, ctx.node(n))
	}
	return cp, nil
}

// NetworkName is the docker network of a cluster's nodes.
func NetworkName(cluster string) string { return "rke-" + cluster }

// nthAddr returns the n-th address of a prefix (the 10th of 10.43.0.0/16 is
// 10.43.0.10, RKE's cluster DNS).
func nthAddr(cidr string, n int) (string, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return "", fmt.Errorf("service CIDR: %w", err)
	}
	a := p.Masked().Addr()
	for i := 0; i < n; i++ {
		a = a.Next()
	}
	if !p.Contains(a) {
		return "", fmt.Errorf("service CIDR %s has no address #%d", cidr, n)
	}
	return a.String(), nil
}

type clusterContext struct {
	model   model.Cluster
	plan    *Cluster
	builtin images.Set // the images docker rke builds for the release
	etcd    []string   // names of the etcd nodes, in definition order
	// controlPlanes are the controlplane nodes, in definition order.
	controlPlanes []string
	// controlPlane (API server, controller-manager, scheduler) and
	// apiProxy are the same on every node that runs them: planned once
	// per cluster, copied into each node.
	controlPlane []Component
	apiProxy     Component
	// kubeletBase and kubeProxyBase hold what the kubelet and kube-proxy
	// of every node share; node completes them with each node's own.
	kubeletBase, kubeProxyBase Component
}

// dns plans CoreDNS: the binary baked into the node image, run from the
// pause image, unless the user named an image of their own. Two replicas
// once there are two nodes, so that losing one node keeps DNS.
func (cc clusterContext) dns() DNS {
	d := DNS{Replicas: 1}
	if len(cc.model.Nodes) > 1 {
		d.Replicas = 2
	}
	if img := cc.plan.Images.CoreDNS; img != cc.builtin.CoreDNS {
		d.Image = img
		return d
	}
	d.Image, d.HostBin = cc.plan.Images.Pause, BinDir
	d.Command = []string{BinDir + "/coredns"}
	return d
}

func (cc clusterContext) probe() PodImage {
	return PodImage{Image: cc.builtin.Pause, HostBin: BinDir, Command: []string{BinDir + "/rke-tools"}}
}

// BinDir is where a release's node image carries its binaries.
const BinDir = "/opt/docker-rke/bin"

func (cc clusterContext) node(n model.Node) Node {
	labels := map[string]string{}
	for k, v := range n.Labels {
		labels[k] = v
	}
	// The ROLES column of kubectl get nodes comes from these labels.
	for _, r := range n.Roles {
		labels["node-role.kubernetes.io/"+string(r)] = "true"
	}
	taints := slices.Clone(n.Taints)
	np := Node{
		Name:              n.Name,
		ContainerName:     model.ContainerName(cc.model.Name, n.Name),
		Hostname:          n.Name,
		Image:             cc.plan.NodeImage,
		KubernetesVersion: cc.plan.KubernetesVersion,
		Roles:             orderedRoles(n.Roles),
		Labels:            labels,
		Taints:            taints,
		Ports:             n.Ports,
		Mounts:            n.Mounts,
	}
	if n.Image != "" {
		np.Image = n.Image
	}
	if n.HasRole(model.RoleEtcd) {
		np.Components = append(np.Components, cc.etcdComponent(n))
	}
	if n.HasRole(model.RoleEtcd) && cc.model.EtcdSnapshots != nil {
		np.Components = append(np.Components, cc.etcdSnapshotsComponent(n))
	}
	if n.HasRole(model.RoleControlPlane) {
		for _, c := range cc.controlPlane {
			np.Components = append(np.Components, c.clone())
		}
	} else {
		np.Components = append(np.Components, cc.apiProxy.clone())
	}
	np.Components = append(np.Components, cc.kubelet(n, labels, taints), cc.kubeProxy(n))
	return np
}

// orderedRoles lists roles in RKE's order without duplicates.
func orderedRoles(roles []model.Role) []model.Role {
	var out []model.Role
	for _, known := range model.KnownRoles() {
		for _, r := range roles {
			if r == known {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// flags renders a flag map as sorted --name=value arguments, after applying
// the user's extra_args for the component (which win, as in RKE).
func (cc clusterContext) flags(component string, defaults map[string]string) []string {
	extra := cc.model.Services[component].ExtraArgs
	keys := make([]string, 0, len(defaults)+len(extra))
	for k := range defaults {
		if _, replaced := extra[k]; !replaced {
			keys = append(keys, k)
		}
	}
	for k := range extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	args := make([]string, len(keys))
	for i, k := range keys {
		v, ok := extra[k]
		if !ok {
			v = defaults[k]
		}
		args[i] = "--" + k + "=" + v
	}
	return args
}

// component plans one component. With the images docker rke builds, the
// binaries are baked into the node image and bound into the component's
// container: kubelet and kube-proxy run from the small runtime image (the
// Debian tools they call: iptables, mount, ...), which the node loads
// after its engine answers; the others are static Go programs that need
// no userland and run from the pause image, which the node loads before
// it says ready, so that etcd and the control plane start at once. An
// image the user named instead (system_images) runs as it is.
func (cc clusterContext) component(name, image string, command []string, defaults map[string]string, binds []string, health Health) Component {
	svc := cc.model.Services[name]
	if image == cc.builtin.Kubernetes || image == cc.builtin.Etcd {
		image = cc.builtin.Pause
		if name == model.ComponentKubelet || name == model.ComponentKubeProxy {
			image = cc.plan.Images.Runtime
		}
		command = append([]string{BinDir + "/" + command[0]}, command[1:]...)
		binds = append([]string{BinDir + ":" + BinDir + ":ro"}, binds...)
	}
	return Component{
		Name:        name,
		Image:       image,
		Command:     command,
		Args:        cc.flags(name, defaults),
		Binds:       append(binds, svc.ExtraBinds...),
		Env:         append([]string(nil), svc.ExtraEnv...),
		HostNetwork: true,
		Health:      health,
	}
}

func (cc clusterContext) etcdServers() string {
	urls := make([]string, len(cc.etcd))
	for i, n := range cc.etcd {
		urls[i] = fmt.Sprintf("https://%s:%d", n, EtcdClientPort)
	}
	return strings.Join(urls, ",")
}

func (cc clusterContext) etcdComponent(n model.Node) Component {
	peers := make([]string, len(cc.etcd))
	for i, name := range cc.etcd {
		peers[i] = fmt.Sprintf("%s=https://%s:%d", name, name, EtcdPeerPort)
	}
	cert, key := EtcdCert(n.Name)
	flags := map[string]string{
		"name":                        n.Name,
		"data-dir":                    EtcdDataDir,
		"listen-client-urls":          fmt.Sprintf("https://0.0.0.0:%d", EtcdClientPort),
		"advertise-client-urls":       fmt.Sprintf("https://%s:%d", n.Name, EtcdClientPort),
		"listen-peer-urls":            fmt.Sprintf("https://0.0.0.0:%d", EtcdPeerPort),
		"initial-advertise-peer-urls": fmt.Sprintf("https://%s:%d", n.Name, EtcdPeerPort),
		"initial-cluster":             strings.Join(peers, ","),
		"initial-cluster-state":       "new",
		"initial-cluster-token":       "etcd-" + cc.model.Name,
		"listen-metrics-urls":         "http://127.0.0.1:2381",
		"cert-file":                   cert,
		"key-file":                    key,
		"peer-cert-file":              cert,
		"peer-key-file":               key,
		"trusted-ca-file":             Cert(CertEtcdCA),
		"peer-trusted-ca-file":        Cert(CertEtcdCA),
		"client-cert-auth":            "true",
		"peer-client-cert-auth":       "true",
	}
	if len(cc.etcd) > 1 {
		// Members share the host's CPUs and disk with the rest of the
		// cluster: a 100 ms heartbeat missed under load starts needless
		// elections. (A single member keeps the defaults: it elects itself
		// within one election timeout of its start.)
		flags["heartbeat-interval"] = "500"
		flags["election-timeout"] = "5000"
	}
	return cc.component(model.ComponentEtcd, cc.plan.Images.Etcd, []string{"etcd"}, flags, []string{EtcdDataDir + ":" + EtcdDataDir, SSLDir + ":" + SSLDir + ":ro"}, Health{URL: "http://127.0.0.1:2381/health", Body: `"health":"true"`})
}

func (cc clusterContext) apiServerComponent() Component {
	c := cc.model
	return cc.component(model.ComponentAPIServer, cc.plan.Images.Kubernetes, []string{"kube-apiserver"}, map[string]string{
		"bind-address":               "0.0.0.0",
		"secure-port":                fmt.Sprint(APIServerPort),
		"etcd-servers":               cc.etcdServers(),
		"etcd-cafile":                Cert(CertEtcdCA),
		"etcd-certfile":              Cert(CertAPIServerEtcdClient),
		"etcd-keyfile":               Key(CertAPIServerEtcdClient),
		"client-ca-file":             CACert,
		"tls-cert-file":              Cert(CertAPIServer),
		"tls-private-key-file":       Key(CertAPIServer),
		"kubelet-client-certificate": Cert(CertAPIServer),
		"kubelet-client-key":         Key(CertAPIServer),
		// Kubelets serve with certificates of the cluster CA for their
		// names and addresses: logs, exec and port-forward check them.
		"kubelet-certificate-authority":    CACert,
		"kubelet-preferred-address-types":  "InternalIP,Hostname,ExternalIP",
		"service-cluster-ip-range":         c.ServiceCIDR,
		"service-node-port-range":          "30000-32767",
		"service-account-issuer":           "https://kubernetes.default.svc." + c.ClusterDomain,
		"service-account-key-file":         PublicKey(CertServiceAccount),
		"service-account-signing-key-file": Key(CertServiceAccount),
		"authorization-mode":               "Node,RBAC",
		"anonymous-auth":                   "false",
		"allow-privileged":                 "true",
		"enable-admission-plugins":         "NodeRestriction",
		"admission-control-config-file":    AdmissionConfig,
		"audit-policy-file":                AuditPolicy,
		"audit-log-path":                   AuditLog,
		"audit-log-format":                 "json",
		// An idle three-node cluster logs about 200 MB a day. Rotation
		// keeps the current 100 MB and 10 gzipped files (about a tenth
		// of that each), for 30 days at most, in the node's /var volume.
		"audit-log-maxsize":                  "100",
		"audit-log-maxbackup":                "10",
		"audit-log-maxage":                   "30",
		"audit-log-compress":                 "true",
		"encryption-provider-config":         EncryptionConfig,
		"profiling":                          "false",
		"requestheader-client-ca-file":       Cert(CertFrontProxyCA),
		"requestheader-allowed-names":        CertAPIServerProxyClient,
		"requestheader-extra-headers-prefix": "X-Remote-Extra-",
		"requestheader-group-headers":        "X-Remote-Group",
		"requestheader-username-headers":     "X-Remote-User",
		"proxy-client-cert-file":             Cert(CertAPIServerProxyClient),
		"proxy-client-key-file":              Key(CertAPIServerProxyClient),
		// At stop, end the watches (pods' informers keep theirs open while
		// their node runs) instead of waiting for the HTTP server's 60 s
		// shutdown timeout; by default the API server never ends them.
		"shutdown-watch-termination-grace-period": "5s",
	}, []string{SSLDir + ":" + SSLDir + ":ro", AuditLogDir + ":" + AuditLogDir}, apiServerHealth())
}

func (cc clusterContext) controllerManager() Component {
	c := cc.model
	kubeconfig := Kubeconfig(CertControllerManager)
	return cc.component(model.ComponentControllerManager, cc.plan.Images.Kubernetes, []string{"kube-controller-manager"}, map[string]string{
		"kubeconfig":                       kubeconfig,
		"authentication-kubeconfig":        kubeconfig,
		"authorization-kubeconfig":         kubeconfig,
		"leader-elect":                     "true",
		"allocate-node-cidrs":              "true",
		"cluster-cidr":                     c.PodCIDR,
		"node-cidr-mask-size":              fmt.Sprint(NodeCIDRMaskSize),
		"service-cluster-ip-range":         c.ServiceCIDR,
		"cluster-signing-cert-file":        CACert,
		"cluster-signing-key-file":         Key(CertCA),
		"root-ca-file":                     CACert,
		"service-account-private-key-file": Key(CertServiceAccount),
		"use-service-account-credentials":  "true",
		"bind-address":                     "127.0.0.1",
		"secure-port":                      "10257",
		"profiling":                        "false",
	}, []string{SSLDir + ":" + SSLDir + ":ro"}, Health{URL: "https://127.0.0.1:10257/healthz", Body: "ok"})
}

func (cc clusterContext) scheduler() Component {
	kubeconfig := Kubeconfig(CertScheduler)
	return cc.component(model.ComponentScheduler, cc.plan.Images.Kubernetes, []string{"kube-scheduler"}, map[string]string{
		"kubeconfig":                kubeconfig,
		"authentication-kubeconfig": kubeconfig,
		"authorization-kubeconfig":  kubeconfig,
		"leader-elect":              "true",
		"bind-address":              "127.0.0.1",
		"secure-port":               "10259",
		"profiling":                 "false",
	}, []string{SSLDir + ":" + SSLDir + ":ro"}, Health{URL: "https://127.0.0.1:10259/healthz", Body: "ok"})
}

// apiProxy is the node-local API server proxy of a node without the
// controlplane role (RKE's nginx-proxy): its kubelet and kube-proxy dial
// 127.0.0.1:6443 as on a controlplane node and reach whichever API server
// answers, so losing one controlplane node does not cut them off.
func (cc clusterContext) apiProxyComponent() Component {
	args := []string{fmt.Sprintf("--listen=127.0.0.1:%d", APIServerPort)}
	for _, n := range cc.controlPlanes {
		args = append(args, fmt.Sprintf("%s:%d", n, APIServerPort))
	}
	return Component{
		Name:  ComponentAPIProxy,
		Image: cc.builtin.Pause, // a static program: see component

		Command:     []string{BinDir + "/rke-tools", "proxy"},
		Args:        args,
		Binds:       []string{BinDir + ":" + BinDir + ":ro"},
		HostNetwork: true,
		Health:      apiServerHealth(),
	}
}

// UnmarshalJSON also reads the plain URL plans kept before Health had
// more (a cluster's state keeps its plan).
func (h *Health) UnmarshalJSON(data []byte) error {
	var url string
	if json.Unmarshal(data, &url) == nil {
		*h = Health{URL: url}
		return nil
	}
	type plain Health
	return json.Unmarshal(data, (*plain)(h))
}

// apiServerHealth is the API server's readiness, on every node the same
// address: the API server of a controlplane node, the API proxy of the
// others.
func apiServerHealth() Health {
	return Health{URL: fmt.Sprintf("https://127.0.0.1:%d/readyz", APIServerPort), Body: "ok", ClusterCA: true}
}

// ComponentAPIProxy is the node-local API server proxy's name.
const ComponentAPIProxy = "api-proxy"

// ComponentEtcdSnapshots takes an etcd node's recurring snapshots (RKE's
// name for it).
const ComponentEtcdSnapshots = "etcd-rolling-snapshots"

// EtcdSnapshotDir is where an etcd node keeps its snapshots, on its /var
// volume (RKE keeps them in /opt/rke/etcd-snapshots).
const EtcdSnapshotDir = "/var/lib/rancher/etcd-snapshots"

// etcdSnapshotsComponent plans an etcd node's recurring snapshots:
// rke-tools running the node's etcdctl with the member's own certificate,
// from the pause image like every static program.
func (cc clusterContext) etcdSnapshotsComponent(n model.Node) Component {
	s := cc.model.EtcdSnapshots
	cert, key := EtcdCert(n.Name)
	return Component{
		Name:    ComponentEtcdSnapshots,
		Image:   cc.builtin.Pause,
		Command: []string{BinDir + "/rke-tools", "etcd-snapshots"},
		Args: []string{
			"--interval=" + s.Interval.String(), fmt.Sprintf("--retention=%d", s.Retention),
			"--dir=" + EtcdSnapshotDir, "--health=127.0.0.1:2382",
			BinDir + "/etcdctl", fmt.Sprintf("--endpoints=https://127.0.0.1:%d", EtcdClientPort),
			"--cacert=" + Cert(CertEtcdCA), "--cert=" + cert, "--key=" + key,
		},
		Binds:       []string{BinDir + ":" + BinDir + ":ro", SSLDir + ":" + SSLDir + ":ro", EtcdSnapshotDir + ":" + EtcdSnapshotDir},
		HostNetwork: true,
		Health:      Health{URL: "http://127.0.0.1:2382/", Body: "ok"},
	}
}

// LocalAPIServer is where kubelet and kube-proxy reach the API server on
// every node: the API server itself on a controlplane node, the API proxy
// elsewhere.
var LocalAPIServer = fmt.Sprintf("https://127.0.0.1:%d", APIServerPort)

// kubelet runs in the node's engine with the node's network and PIDs. up
// creates its Node with every label and taint before it starts (the
// NodeRestriction admission plugin forbids a kubelet to set role labels
// itself); the flags repeat the user's own, for a Node deleted and
// registered again.
// kubelet completes the kubelet every node shares with the node's own
// name, labels, taints and host folders.
func (cc clusterContext) kubelet(n model.Node, labels map[string]string, taints []model.Taint) Component {
	own := map[string]string{"hostname-override": n.Name}
	var nodeLabels []string
	for k, v := range labels {
		if !strings.Contains(k, "kubernetes.io/") && !strings.Contains(k, "k8s.io/") {
			nodeLabels = append(nodeLabels, k+"="+v)
		}
	}
	sort.Strings(nodeLabels)
	if len(nodeLabels) > 0 {
		own["node-labels"] = strings.Join(nodeLabels, ",")
	}
	if len(taints) > 0 {
		register := make([]string, len(taints))
		for i, t := range taints {
			register[i] = t.String()
		}
		own["register-with-taints"] = strings.Join(register, ",")
	}
	return cc.completeForNode(cc.kubeletBase, own, mountBinds(n.Mounts))
}

// kubeletShared plans what every node's kubelet has in common.
func (cc clusterContext) kubeletShared() Component {
	c := cc.component(model.ComponentKubelet, cc.plan.Images.Kubernetes, []string{"kubelet"}, map[string]string{
		"config":     KubeletConfig,
		"kubeconfig": Kubeconfig("kube-node"),
	}, []string{
		SSLDir + ":" + SSLDir + ":ro",
		"/etc/cni:/etc/cni:ro",
		"/opt/cni:/opt/cni:ro",
		// Volumes kubelet mounts must reach containerd: shared.
		"/var/lib/kubelet:/var/lib/kubelet:shared",
		// cAdvisor finds the image file system by its path.
		"/var/lib/containerd:/var/lib/containerd",
		"/var/log:/var/log",
		"/run/containerd:/run/containerd",
		"/lib/modules:/lib/modules:ro",
		"/sys:/sys",
		// Over the engine's own read-only cgroup mount: kubelet makes the
		// pods' cgroups.
		"/sys/fs/cgroup:/sys/fs/cgroup",
		"/dev:/dev",
		// The node's Debian release, which the kubelet reports as the
		// Node's OS image (the runtime image has none).
		"/etc/os-release:/etc/os-release:ro",
	}, Health{URL: "http://127.0.0.1:10248/healthz", Body: "ok"})
	c.HostPID = true
	c.Privileged = true
	return c
}

// completeForNode copies a component every node shares and adds a node's
// own flags, in their sorted places unless the user's extra_args set
// them (theirs win, as in flags), and its host folders' binds, before
// the user's extra_binds: what flags and component would have planned for
// the node, without sorting and copying the shared part for every node.
func (cc clusterContext) completeForNode(base Component, own map[string]string, binds []string) Component {
	extra := cc.model.Services[base.Name]
	c := base.clone()
	keys := make([]string, 0, len(own))
	for k := range own {
		if _, replaced := extra.ExtraArgs[k]; !replaced {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	args := make([]string, 0, len(base.Args)+len(keys))
	i := 0
	for _, k := range keys {
		for ; i < len(base.Args) && flagName(base.Args[i]) < k; i++ {
			args = append(args, base.Args[i])
		}
		args = append(args, "--"+k+"="+own[k])
	}
	c.Args = append(args, base.Args[i:]...)
	if len(binds) > 0 {
		at := len(c.Binds) - len(extra.ExtraBinds)
		c.Binds = slices.Insert(c.Binds, at, binds...)
	}
	return c
}

// flagName is the name of a --name=value argument.
func flagName(arg string) string {
	name, _, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
	return name
}

// mountBinds are the definition's host folders of a node, bound into its
// kubelet at the same paths: the kubelet checks a hostPath volume's type
// (Directory, File, ...) in its own container, which would not see them
// otherwise. (RKE asks its users for kubelet extra_binds for the same.)
func mountBinds(mounts []model.Mount) []string {
	var out []string
	for _, m := range mounts {
		b := m.NodePath + ":" + m.NodePath
		if m.ReadOnly {
			b += ":ro"
		}
		out = append(out, b)
	}
	return out
}

// kubeProxy completes the kube-proxy every node shares with its name.
func (cc clusterContext) kubeProxy(n model.Node) Component {
	return cc.completeForNode(cc.kubeProxyBase, map[string]string{"hostname-override": n.Name}, nil)
}

// kubeProxyShared plans what every node's kube-proxy has in common.
func (cc clusterContext) kubeProxyShared() Component {
	c := cc.component(model.ComponentKubeProxy, cc.plan.Images.Kubernetes, []string{"kube-proxy"}, map[string]string{
		"kubeconfig":   Kubeconfig(CertKubeProxy),
		"cluster-cidr": cc.model.PodCIDR,
		"proxy-mode":   "iptables",
		// Leave conntrack's sysctls as they are: raising the table size
		// needs the host's init namespace, which a node is not.
		"conntrack-max-per-core":            "0",
		"conntrack-tcp-timeout-established": "0s",
		"conntrack-tcp-timeout-close-wait":  "0s",
		"healthz-bind-address":              "127.0.0.1:10256",
		"metrics-bind-address":              "127.0.0.1:10249",
	}, []string{SSLDir + ":" + SSLDir + ":ro", "/lib/modules:/lib/modules:ro", "/run/xtables.lock:/run/xtables.lock"}, Health{URL: "http://127.0.0.1:10256/healthz"})
	c.Privileged = true
	return c
}

// RegistryHosts is one registry the nodes' containerd reaches through
// mirrors: it asks them in order, then the registry itself.
type RegistryHosts struct {
	Registry string   `json:"registry"`
	Mirrors  []string `json:"mirrors"`
}

// registryHosts turns the mirrors, each serving some registries, into the
// registries, each with its mirrors in the order the definition gave them.
func registryHosts(mirrors []model.RegistryMirror) []RegistryHosts {
	var out []RegistryHosts
	at := map[string]int{}
	for _, m := range mirrors {
		for _, reg := range m.Mirrored() {
			i, ok := at[reg]
			if !ok {
				i = len(out)
				at[reg] = i
				out = append(out, RegistryHosts{Registry: reg})
			}
			if !slices.Contains(out[i].Mirrors, m.URL) {
				out[i].Mirrors = append(out[i].Mirrors, m.URL)
			}
		}
	}
	return out
}
