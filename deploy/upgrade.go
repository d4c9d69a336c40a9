package deploy

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubectl/pkg/drain"

	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/model"
	"github.com/docker-rke/docker-rke/runtime"
)

// An upgrade is RKE's: the definition names another Kubernetes release and
// up carries the cluster there in place, one node at a time (the caller,
// plugin's up, replaces each node and converges). What lives here is the
// part that talks to the cluster: which step is allowed, and making a node
// empty of the pods that can run elsewhere before it is replaced.

// CheckUpgrade says whether a cluster may go from one release to another:
// a newer patch of the same minor, or the next minor, as kubeadm and RKE
// allow (the API server supports one minor of skew between its members and
// the components it talks to). A downgrade or a skipped minor is refused,
// naming the release to go through. It is pure.
func CheckUpgrade(cluster, from, to string) error {
	f, err := version.ParseSemantic(from)
	if err != nil {
		return fmt.Errorf("cluster %s: its nodes run Kubernetes %q: %w", cluster, from, err)
	}
	t, err := version.ParseSemantic(to)
	if err != nil {
		return fmt.Errorf("cluster %s: Kubernetes %q: %w", cluster, to, err)
	}
	switch {
	case t.LessThan(f):
		return fmt.Errorf("cluster %s runs Kubernetes %s: going back to %s is a downgrade, which Kubernetes does not support (etcd's data may already be in the newer form); restore a snapshot taken before the upgrade into a cluster of %s instead", cluster, from, to, to)
	case t.Major() != f.Major() || t.Minor() > f.Minor()+1:
		return fmt.Errorf("cluster %s runs Kubernetes %s: going to %s skips a minor release, which Kubernetes does not support; upgrade to v%d.%d first", cluster, from, to, f.Major(), f.Minor()+1)
	}
	return nil
}

// UpgradeOrder is the order nodes take a new release in, as RKE upgrades:
// etcd members, then controlplane nodes, then workers, one at a time, so
// that etcd keeps its quorum and an API server answers throughout.
func UpgradeOrder(c runtime.Cluster) []runtime.Node { return rollingOrder(c) }

// adminClient reaches the API server through a controlplane node that
// runs, preferring one other than avoid (the node about to be replaced).
func adminClient(c runtime.Cluster, nodes map[string]Node, st *State, avoid string) (kubernetes.Interface, error) {
	cps := nodesWith(c, model.RoleControlPlane)
	slices.SortStableFunc(cps, func(a, b runtime.Node) int {
		switch {
		case a.Name == avoid && b.Name != avoid:
			return 1
		case b.Name == avoid && a.Name != avoid:
			return -1
		}
		return 0
	})
	for _, cp := range cps {
		if n, ok := nodes[cp.Name]; ok {
			cs, _, err := kubeClients(n, st.Certificates)
			return cs, err
		}
	}
	return nil, fmt.Errorf("cluster %s: no controlplane node runs to reach the API server through", c.Name)
}

// DrainOptions tune Drain.
type DrainOptions struct {
	// Avoid is a controlplane node not to reach the API server through
	// when another one runs (the node about to be replaced).
	Avoid string
	// Timeout bounds the evictions (PodDisruptionBudgets may hold them
	// back); 0 is two minutes.
	Timeout time.Duration
	Log     dind.Logger
}

// Drain cordons a node and evicts its pods as kubectl drain does: through
// the eviction API, so PodDisruptionBudgets hold an eviction back until
// the pods' controllers have made up for the ones gone (retried until the
// timeout), DaemonSet pods staying. Pods no controller would recreate
// elsewhere stay too: they are bound to the node and come back with it,
// as after a reboot, rather than being deleted.
func Drain(ctx context.Context, c runtime.Cluster, nodes map[string]Node, st *State, node string, opts DrainOptions) error {
	cs, err := adminClient(c, nodes, st, opts.Avoid)
	if err != nil {
		return err
	}
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Minute
	}
	h := drainHelper(ctx, cs, opts.Timeout)
	if err := cordon(ctx, cs, node, true); err != nil {
		return fmt.Errorf("cluster %s node %s: cordoning: %w", c.Name, node, err)
	}
	list, errs := h.GetPodsForDeletion(node)
	if len(errs) > 0 {
		return fmt.Errorf("cluster %s node %s: listing its pods: %v", c.Name, node, errs)
	}
	if w := list.Warnings(); w != "" && opts.Log != nil {
		opts.Log.Printf("[%s] node %s: %s", c.Name, node, w)
	}
	if err := h.DeleteOrEvictPods(list.Pods()); err != nil {
		return fmt.Errorf("cluster %s node %s: draining (PodDisruptionBudgets may hold pods back; --timeout bounds the wait): %w", c.Name, node, err)
	}
	return nil
}

// annotationCordoned marks a Node up cordoned to upgrade it: the next
// deploy of the cluster (the upgrade's own, once the node runs the new
// release, or any later up if that one stopped short) makes it
// schedulable again. A node the user had cordoned keeps no mark and
// stays cordoned.
const annotationCordoned = "docker-rke.io/cordoned-for-upgrade"

// cordon marks a schedulable Node unschedulable with annotationCordoned
// (on), or makes a Node with the mark schedulable again and drops it, in
// one patch each.
func cordon(ctx context.Context, cs kubernetes.Interface, node string, on bool) error {
	n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return err
	}
	_, marked := n.Annotations[annotationCordoned]
	var patch string
	switch {
	case on && !n.Spec.Unschedulable:
		patch = `{"metadata":{"annotations":{"` + annotationCordoned + `":"true"}},"spec":{"unschedulable":true}}`
	case !on && marked:
		patch = `{"metadata":{"annotations":{"` + annotationCordoned + `":null}},"spec":{"unschedulable":false}}`
	default:
		return nil
	}
	_, err = cs.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: fieldManager})
	return err
}

// uncordonUpgraded makes the Nodes up cordoned for an upgrade
// schedulable again, once every node is Ready.
func (r *run) uncordonUpgraded(ctx context.Context) error {
	list, err := r.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("cluster %s: listing Nodes: %w", r.c.Name, err)
	}
	for _, n := range list.Items {
		if _, marked := n.Annotations[annotationCordoned]; !marked {
			continue
		}
		if err := cordon(ctx, r.cs, n.Name, false); err != nil {
			return fmt.Errorf("cluster %s node %s: uncordoning it after its upgrade: %w", r.c.Name, n.Name, err)
		}
		r.opts.Log.Printf("[%s] node %s: schedulable again", r.c.Name, n.Name)
	}
	return nil
}

// drainHelper is kubectl drain's helper with docker rke's choices.
func drainHelper(ctx context.Context, cs kubernetes.Interface, timeout time.Duration) *drain.Helper {
	return &drain.Helper{
		Ctx:                 ctx,
		Client:              cs,
		GracePeriodSeconds:  -1, // each pod's own
		IgnoreAllDaemonSets: true,
		// An evicted pod's emptyDir goes with it, as its controller
		// makes a new pod elsewhere.
		DeleteEmptyDirData: true,
		Timeout:            timeout,
		// Force lets pods without a controller past kubectl's own
		// filter, only for keepUnmanaged (which runs after it) to keep
		// them on the node.
		Force:             true,
		AdditionalFilters: []drain.PodFilter{keepUnmanaged},
		Out:               io.Discard,
		ErrOut:            io.Discard,
	}
}

// keepUnmanaged leaves pods without a controller on the node (kubectl
// drain would refuse them, or with --force delete them for good).
func keepUnmanaged(pod corev1.Pod) drain.PodDeleteStatus {
	if metav1.GetControllerOf(&pod) == nil {
		return drain.MakePodDeleteStatusSkip()
	}
	return drain.MakePodDeleteStatusOkay()
}
