package deploy

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

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
	out := map[string]string{}
	used := map[netip.Prefix]bool{}
	for _, n := range nodes {
		if p, err := netip.ParsePrefix(have[n]); err == nil && p.Bits() == maskBits && cidr.Contains(p.Addr()) && !used[p] {
			out[n] = p.String()
			used[p] = true
		}
	}
	next := netip.PrefixFrom(cidr.Addr(), maskBits)
	size := uint64(1) << (32 - maskBits)
	for _, n := range nodes {
		if out[n] != "" {
			continue
		}
		for used[next] {
			next = nextBlock(next, size)
		}
		if !cidr.Contains(next.Addr()) {
			return nil, fmt.Errorf("pod CIDR %s has no free /%d block for node %s", cidr, maskBits, n)
		}
		out[n] = next.String()
		used[next] = true
	}
	return out, nil
}

func nextBlock(p netip.Prefix, size uint64) netip.Prefix {
	a := p.Addr().As4()
	v := uint64(a[0])<<24 | uint64(a[1])<<16 | uint64(a[2])<<8 | uint64(a[3])
	v += size
	if v > 0xffffffff {
		return netip.Prefix{} // contained by nothing: the caller stops
	}
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), p.Bits())
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

// networkScript converges one node's routes and masquerading: a route to
// every other node's pods via that node (replacing routes to nodes that
// left), and masquerading for pod traffic that leaves the cluster CIDR.
// up runs it on every node each time, and the node keeps it
// (NetworkScriptPath) for its entrypoint to run again when the node
// restarts: node addresses are fixed, so it stays right until nodes are
// added or removed, which only up does. (An agent watching Nodes would
// cost every node memory for the whole cluster's life.)
func networkScript(clusterCIDR string, peers []peer) string {
	sort.Slice(peers, func(i, j int) bool { return peers[i].podCIDR < peers[j].podCIDR })
	var b strings.Builder
	b.WriteString("set -e\n")
	var want []string
	for _, p := range peers {
		fmt.Fprintf(&b, "ip route replace %s via %s proto %s\n", p.podCIDR, p.address, routeProto)
		want = append(want, p.podCIDR)
	}
	fmt.Fprintf(&b, `for r in $(ip -4 route show proto %[1]s | awk '{ print $1 }'); do
  case " %[2]s " in *" $r "*) ;; *) ip route del "$r" proto %[1]s ;; esac
done
iptables -w -t nat -N RKE-POSTROUTING 2>/dev/null || true
iptables -w -t nat -F RKE-POSTROUTING
iptables -w -t nat -A RKE-POSTROUTING -d %[3]s -j RETURN
iptables -w -t nat -A RKE-POSTROUTING -s %[3]s -j MASQUERADE
iptables -w -t nat -C POSTROUTING -j RKE-POSTROUTING 2>/dev/null || iptables -w -t nat -A POSTROUTING -j RKE-POSTROUTING
`, routeProto, strings.Join(want, " "), clusterCIDR)
	return b.String()
}

// kubeletConfig is a node's KubeletConfiguration, with the settings that
// work in a node (shared/reference/host-facts.md): containerd's CRI,
// cgroupfs, cgroup v1 allowed; authentication by client certificate and
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
		"tlsCertFile":              runtime.Cert("kube-kubelet-" + node),
		"tlsPrivateKeyFile":        runtime.Key("kube-kubelet-" + node),
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
