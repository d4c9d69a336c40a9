package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/docker-rke/docker-rke/deploy"
	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/runtime"
)

// checkContainment: from a pod on node, TCP and UDP to a port the
// cluster DNS Service does not have, to an address of the service range
// no Service holds and to a pod address of no node are refused (or
// dropped) inside the node, and none of it leaves the node: a counter
// rule on the node's uplink sees no packet for those addresses, while it
// does see the packets of a connection that may leave (to the node
// network's gateway), so the count means something.
func checkContainment(t *testing.T, cs kubernetes.Interface, c runtime.Cluster, node runtime.Node) {
	t.Helper()
	ctx := ctxT(t)
	svc := netip.MustParsePrefix(c.ServiceCIDR)
	pods := netip.MustParsePrefix(c.PodCIDR)
	// The last addresses of each range: no Service and no node block
	// has them in a cluster of a few nodes.
	unusedService := lastAddr(svc).Prev().String()
	unusedPod := lastAddr(pods).Prev().String()
	gateway := inspect(t, node.ContainerName).NetworkSettings.Networks[c.Network].Gateway
	type dial struct{ proto, addr string }
	inside := []dial{
		{"tcp", c.ClusterDNS + ":8081"}, {"udp", c.ClusterDNS + ":8081"},
		{"tcp", unusedService + ":80"}, {"udp", unusedService + ":53"},
		{"tcp", unusedPod + ":80"}, {"udp", unusedPod + ":53"},
	}
	outside := dial{"tcp", gateway + ":9"}

	const comment = "e2e-containment"
	var targets []string
	for _, d := range append(inside, outside) {
		host, _, _ := strings.Cut(d.addr, ":")
		if !slices.Contains(targets, host) {
			targets = append(targets, host)
		}
	}
	for _, host := range targets {
		nodeExec(t, node, "iptables", "-w", "-t", "mangle", "-I", "POSTROUTING", "-o", "eth0", "-d", host, "-m", "comment", "--comment", comment, "-j", "RETURN")
	}
	t.Cleanup(func() {
		for _, host := range targets {
			_, _ = dind.Exec(context.Background(), engine(t), node.ContainerName, []string{"iptables", "-w", "-t", "mangle", "-D", "POSTROUTING", "-o", "eth0", "-d", host, "-m", "comment", "--comment", comment, "-j", "RETURN"})
		}
	})

	const ns = "e2e-containment"
	if err := deploy.EnsureProbeNamespace(ctx, cs, ns); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i, d := range append(inside, outside) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("dial-%d", i)
			fate := probeOutput(t, cs, c, ns, name, node.Name, "dial", "--timeout=3s", d.proto, d.addr)
			switch {
			case d == outside:
			case !slices.Contains([]string{"refused", "unreachable", "no answer"}, fate):
				t.Errorf("%s: from a pod on %s, %s to %s: %q, want it refused or dropped in the node", c.Name, node.Name, d.proto, d.addr, fate)
			default:
				t.Logf("%s to %s: %s", d.proto, d.addr, fate)
			}
		}()
	}
	wg.Wait()

	counts := uplinkCounts(t, node, comment)
	for _, host := range targets {
		switch {
		case host == gateway && counts[host] == 0:
			t.Errorf("%s: the uplink counter saw no packet to the gateway %s: it cannot show a leak either", c.Name, host)
		case host != gateway && counts[host] > 0:
			t.Errorf("%s: %d packets to %s left node %s for the engine's network", c.Name, counts[host], host, node.Name)
		}
	}
}

// lastAddr is the last address of a prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := (uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// probeOutput runs rke-tools in a pod on node and returns what it printed.
func probeOutput(t *testing.T, cs kubernetes.Interface, c runtime.Cluster, ns, name, node string, args ...string) string {
	t.Helper()
	ctx := ctxT(t)
	pod := deploy.ProbePod(c, name, node, args...)
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Errorf("%s: pod %s: %v", c.Name, name, err)
		return ""
	}
	phase, err := deploy.WaitPodDone(ctx, cs, ns, name, 2*time.Minute)
	out := strings.TrimSpace(deploy.PodLogs(ctx, cs, ns, name))
	if err != nil || phase != corev1.PodSucceeded {
		t.Errorf("%s: pod %s %v: %s %v%s %q", c.Name, name, args, phase, err, deploy.PodStatus(ctx, cs, ns, name), out)
	}
	return out
}

// nodeExec runs a command in a node container; failing is fatal.
func nodeExec(t *testing.T, node runtime.Node, cmd ...string) string {
	t.Helper()
	out, err := dind.Exec(ctxT(t), engine(t), node.ContainerName, cmd)
	if err != nil {
		t.Fatalf("node %s: %v", node.Name, err)
	}
	return out
}

// uplinkCounts reads the packet counts of the counter rules, by address.
func uplinkCounts(t *testing.T, node runtime.Node, comment string) map[string]int {
	t.Helper()
	out := nodeExec(t, node, "iptables", "-w", "-t", "mangle", "-L", "POSTROUTING", "-v", "-x", "-n")
	// "pkts bytes RETURN all -- * eth0 0.0.0.0/0 DEST /* comment */"
	counterRE := regexp.MustCompile(`^\s*(\d+)\s+\d+\s+RETURN\s.*\s(\d+\.\d+\.\d+\.\d+)\s.*` + regexp.QuoteMeta(comment))
	counts := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, comment) {
			continue
		}
		m := counterRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("node %s: cannot read the counter rule %q", node.Name, line)
		}
		n, _ := strconv.Atoi(m[1])
		counts[m[2]] += n
	}
	return counts
}
