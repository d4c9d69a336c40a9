package deploy

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"text/template"

	"sigs.k8s.io/yaml"

	"github.com/docker-rke/docker-rke/internal/sticky"

	"github.com/docker-rke/docker-rke/runtime"
)

// CNIConfig is where containerd's CRI reads the pod network of a node.
const CNIConfig = "/etc/cni/net.d/10-docker-rke.conflist"

// routeProto tags the routes docker rke adds between nodes, so that up
// finds and replaces exactly its own (ip route ... proto 187).
const routeProto = "187"

// assignPodCIDRs gives every node of the plan its pod network: the one it
// had, or else the lowest free block of the cluster CIDR. docker rke
// chooses (and keeps in the cluster's state) rather than the
// controller-manager, so that each node's CNI configuration and every
// node's routes are in place before its kubelet starts: a node is Ready
// at its first status, with no wait for an allocation to come back.
func assignPodCIDRs(clusterCIDR string, maskBits int, have map[string]string, nodes []string) (map[string]string, error) {
	cidr, err := netip.ParsePrefix(clusterCIDR)
	if err != nil {
		return nil, fmt.Errorf("pod CIDR %q: %w", clusterCIDR, err)
	}
	cidr = cidr.Masked()
	if !cidr.Addr().Is4() || maskBits < cidr.Bits() || maskBits > 30 {
		return nil, fmt.Errorf("pod CIDR %s cannot be cut into /%d node blocks", cidr, maskBits)
	}
	held := map[string]netip.Prefix{}
	for name, b := range have {
		if p, err := netip.ParsePrefix(b); err == nil {
			held[name] = p
		}
	}
	isBlock := func(p netip.Prefix) bool { return p.Bits() == maskBits && p.Masked() == p && cidr.Contains(p.Addr()) }
	got, err := sticky.Assign(nodes, held, isBlock, nil, sticky.Blocks(cidr, maskBits))
	var full *sticky.FullError
	if errors.As(err, &full) {
		return nil, fmt.Errorf("pod CIDR %s has no free /%d block for node %s", cidr, maskBits, full.Name)
	}
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for name, p := range got {
		out[name] = p.String()
	}
	return out, nil
}

// cniConfig is a node's pod network: a point-to-point link per pod with
// addresses from the node's block, and host ports. No masquerading here:
// the node masquerades only what leaves the cluster CIDR (networkScript).
func cniConfig(podCIDR string) []byte {
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "docker-rke",
		"plugins": []any{
			map[string]any{
				"type":   "ptp",
				"ipMasq": false,
				"ipam": map[string]any{
					"type":   "host-local",
					"ranges": []any{[]any{map[string]any{"subnet": podCIDR}}},
					"routes": []any{map[string]any{"dst": "0.0.0.0/0"}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]any{"portMappings": true}},
		},
	}
	data, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		panic(err) // plain data
	}
	return append(data, '\n')
}

// peer is another node's pod block and address.
type peer struct{ podCIDR, address string }

// networkScript converges one node's routes, masquerading and
// containment: a route to every other node's pods via that node
// (replacing routes to nodes that left), masquerading for pod traffic
// that leaves the cluster CIDR, and neither the pod range nor the service
// range ever routed out of the node (an address of neither a node's pods
// nor a Service's port is refused in the node).
// up runs it on every node each time, and the node keeps it
// (NetworkScriptPath) for its entrypoint to run again when the node
// restarts: node addresses are fixed, so it stays right until nodes are
// added or removed, which only up does. (An agent watching Nodes would
// cost every node memory for the whole cluster's life.)
func networkScript(c runtime.Cluster, peers []peer) string {
	sort.Slice(peers, func(i, j int) bool { return peers[i].podCIDR < peers[j].podCIDR })
	type route struct{ PodCIDR, Address string }
	data := struct {
		Peers                    []route
		Proto, Want              string
		ClusterCIDR, ServiceCIDR string
	}{Proto: routeProto, ClusterCIDR: c.PodCIDR, ServiceCIDR: c.ServiceCIDR}
	var want []string
	for _, p := range peers {
		data.Peers = append(data.Peers, route{p.podCIDR, p.address})
		want = append(want, p.podCIDR)
	}
	data.Want = strings.Join(want, " ")
	return render(configTemplates, "network.sh.tmpl", data)
}

// configTemplates are the files deploy writes into nodes and the cluster
// (the route script, the Corefile, the encryption config), with named
// fields, parsed once.
var configTemplates = template.Must(template.ParseFS(templateFiles, "*.tmpl"))

//go:embed *.tmpl
var templateFiles embed.FS

// render executes one of the templates with plain data: a failure is a
// programming error, which the tests of each template would show.
func render(t *template.Template, name string, data any) string {
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, name, data); err != nil {
		panic(err)
	}
	return b.String()
}

// kubeletConfig is a node's KubeletConfiguration, with the settings that
// work in a node: containerd's CRI (the module proxy does not serve
// cri-dockerd, so dockerd cannot be the kubelet's runtime), the cgroupfs
// driver the node's engine uses, cgroup v1 allowed (hosts such as this
// project's run it); authentication by client certificate and
// webhook, never anonymous; no image garbage collection, since no
// registry can give an image back.
func kubeletConfig(c runtime.Cluster, node string) []byte {
	conf := map[string]any{
		"apiVersion":               "kubelet.config.k8s.io/v1beta1",
		"kind":                     "KubeletConfiguration",
		"containerRuntimeEndpoint": "unix:///run/containerd/containerd.sock",
		"cgroupDriver":             "cgroupfs",
		"failCgroupV1":             false,
		"failSwapOn":               false,
		"clusterDomain":            c.ClusterDomain,
		"clusterDNS":               []string{c.ClusterDNS},
		"resolvConf":               "/etc/resolv.conf",
		"tlsCertFile":              runtime.Cert(runtime.CertKubelet(node)),
		"tlsPrivateKeyFile":        runtime.Key(runtime.CertKubelet(node)),
		"authentication": map[string]any{
			"anonymous": map[string]any{"enabled": false},
			"webhook":   map[string]any{"enabled": true},
			"x509":      map[string]any{"clientCAFile": runtime.CACert},
		},
		"authorization":       map[string]any{"mode": "Webhook"},
		"readOnlyPort":        0,
		"healthzBindAddress":  "127.0.0.1",
		"healthzPort":         10248,
		"serializeImagePulls": false,
		// The host's disk is shared by every node: its fill level is not
		// this node's pressure.
		"evictionHard": map[string]string{
			"memory.available":  "100Mi",
			"nodefs.available":  "0%",
			"nodefs.inodesFree": "0%",
			"imagefs.available": "0%",
		},
		"imageGCHighThresholdPercent": 100,
		// Status reports often enough that Ready shows at once.
		"nodeStatusReportFrequency": "10s",
	}
	data, err := yaml.Marshal(conf)
	if err != nil {
		panic(err) // plain data
	}
	return data
}
