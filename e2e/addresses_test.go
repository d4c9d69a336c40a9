package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// podAddress is where a running pod of the pod network was.
type podAddress struct {
	name, node, ip string
}

// podAddresses maps each running pod-network pod on the given nodes to
// its address.
func podAddresses(t *testing.T, cs kubernetes.Interface, nodes ...string) map[types.UID]podAddress {
	t.Helper()
	pods, err := cs.CoreV1().Pods("").List(ctxT(t), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[types.UID]podAddress{}
	for _, p := range pods.Items {
		if p.Spec.HostNetwork || p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" || !slices.Contains(nodes, p.Spec.NodeName) {
			continue
		}
		out[p.UID] = podAddress{name: p.Namespace + "/" + p.Name, node: p.Spec.NodeName, ip: p.Status.PodIP}
	}
	return out
}

// checkFreshAddresses: after their nodes restarted, the pods that ran
// there before come back in new sandboxes with new addresses, and none
// gets an address any pod had before. Until the kubelet reports a
// restarted pod's new address its Services still list the old one, so a
// reused address would send their traffic to another pod.
func checkFreshAddresses(t *testing.T, cs kubernetes.Interface, before map[types.UID]podAddress) {
	t.Helper()
	if len(before) == 0 {
		t.Fatal("no pod-network pod ran on the restarted nodes before; the check would prove nothing")
	}
	old := map[string]string{}
	for _, a := range before {
		old[a.ip] = a.name
	}
	var waiting []string
	err := wait.PollUntilContextTimeout(ctxT(t), time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		waiting = waiting[:0]
		for _, p := range pods.Items {
			a, ok := before[p.UID]
			if !ok {
				continue
			}
			if p.Status.PodIP == "" || p.Status.PodIP == a.ip {
				waiting = append(waiting, fmt.Sprintf("%s on %s (%s)", a.name, a.node, a.ip))
				continue
			}
			if was, reused := old[p.Status.PodIP]; reused {
				return false, fmt.Errorf("%s came back with %s, the address %s had before the restart", a.name, p.Status.PodIP, was)
			}
		}
		return len(waiting) == 0, nil
	})
	if err != nil {
		t.Errorf("pod addresses after the restart: %v (reporting the address they had before, handed out again or never updated: %s)", err, strings.Join(waiting, ", "))
	}
}
