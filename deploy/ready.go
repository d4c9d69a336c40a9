package deploy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/model"
	"github.com/docker-rke/docker-rke/runtime"
)

// ReadyOptions tune WaitReady.
type ReadyOptions struct {
	// Timeout bounds each wait.
	Timeout time.Duration
	Log     dind.Logger
	// Since is when the nodes started: a Node counts as Ready only with a
	// status its kubelet posted after it.
	Since time.Time
	// Started are the nodes that were stopped until Since: the leases
	// their components held are released (releaseStaleLeases).
	Started []string
}

// ErrNotDeployed is returned by WaitReady for a cluster that up never
// deployed (--nodes-only), or deployed with a docker rke too old to keep
// its plan in the state.
var ErrNotDeployed = errors.New("no deployed control plane in the cluster's state")

// WaitReady waits until a cluster whose nodes were started again (docker
// rke start, or the engine's restart) serves as before: an API server
// answers, every node is Ready with a status posted since it started,
// and a pod's DNS lookup succeeds. It deploys nothing: each node's engine
// starts the components as they were, and each node's entrypoint puts
// back its pod routes.
func WaitReady(ctx context.Context, nodes map[string]Node, st *State, opts ReadyOptions) ([]Phase, error) {
	if st.Plan == nil || st.Certificates == nil {
		return nil, ErrNotDeployed
	}
	c := *st.Plan
	if opts.Timeout == 0 {
		opts.Timeout = 3 * time.Minute
	}
	var phases []Phase
	phase := func(name string, start time.Time) {
		d := time.Since(start)
		phases = append(phases, NewPhase(name, d))
		opts.Log.Printf("[%s] %s: done in %s", c.Name, name, d.Round(10*time.Millisecond))
	}
	start := time.Now()
	node, err := firstAPIServer(ctx, nodes, c, st, opts.Timeout)
	if err != nil {
		return nil, err
	}
	opts.Log.Printf("[%s] node %s: %s ready", c.Name, node.Name, model.ComponentAPIServer)
	phase("control plane", start)

	start = time.Now()
	cs, _, err := kubeClients(nodes[node.Name], st.Certificates)
	if err != nil {
		return nil, err
	}
	if err := releaseStaleLeases(ctx, cs, c.Name, opts.Started, opts.Since, opts.Log); err != nil {
		return nil, err
	}
	since := map[string]time.Time{}
	for _, n := range opts.Started {
		since[n] = opts.Since
	}
	// The DNS check's pod waits for a node and CoreDNS by itself.
	dns, err := startDNSCheck(ctx, cs, c, opts.Timeout)
	if err != nil {
		return nil, err
	}
	defer dns.cleanup(ctx)
	prog, err := waitNodesReady(ctx, cs, c, since, opts.Timeout, opts.Log)
	if err != nil {
		return nil, notReadyError(ctx, nodes, c, prog, opts.Timeout)
	}
	phase("nodes ready", start)
	start = time.Now()
	if err := dns.wait(ctx); err != nil {
		return nil, err
	}
	phase("dns", start)
	return phases, nil
}

// firstAPIServer returns the first controlplane node whose API server is
// ready, polling them all.
func firstAPIServer(ctx context.Context, nodes map[string]Node, c runtime.Cluster, st *State, timeout time.Duration) (runtime.Node, error) {
	cps := nodesWith(c, model.RoleControlPlane)
	clients := make([]*http.Client, len(cps))
	for i, n := range cps {
		comp, _ := component(n, model.ComponentAPIServer)
		hc, err := healthClient(nodes[n.Name], comp.Health, st.Certificates)
		if err != nil {
			return runtime.Node{}, err
		}
		defer hc.CloseIdleConnections()
		clients[i] = hc
	}
	var found runtime.Node
	last := map[string]string{}
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		for i, n := range cps {
			comp, _ := component(n, model.ComponentAPIServer)
			ok, answer := get(ctx, clients[i], comp.Health.URL, comp.Health.Body)
			if ok {
				found = n
				return true, nil
			}
			last[n.Name] = answer
		}
		return false, nil
	})
	if err != nil {
		msg := fmt.Sprintf("cluster %s: no API server ready within %s", c.Name, timeout)
		for _, n := range cps {
			msg += fmt.Sprintf("\n  node %s: last answer: %s; its last log lines:\n%s", n.Name, last[n.Name], nodes[n.Name].Logs(ctx, model.ComponentAPIServer, 15))
		}
		return runtime.Node{}, errors.New(msg)
	}
	return found, nil
}

// ReadyNodes says which of a cluster's nodes are Ready, asking the API
// server of via, one of its controlplane nodes that runs, within timeout.
func ReadyNodes(ctx context.Context, via Node, st *State, timeout time.Duration) (map[string]bool, error) {
	if st.Plan == nil || st.Certificates == nil {
		return nil, ErrNotDeployed
	}
	cs, _, err := kubeClients(via, st.Certificates)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("cluster %s: listing Nodes: %w", st.Plan.Name, err)
	}
	ready := map[string]bool{}
	for _, n := range list.Items {
		ready[n.Name] = readyCondition(n).Status == corev1.ConditionTrue
	}
	return ready, nil
}

// leaderLeases are the leader election leases of the control plane.
func leaderLeases() []string {
	return []string{model.ComponentControllerManager, model.ComponentScheduler}
}

// releaseStaleLeases deletes the leader election leases held by the
// components of nodes that were stopped until since: a new
// controller-manager or scheduler must otherwise see an old lease
// unrenewed for its whole duration (15 s, by its own clock, from when it
// first looked) before it may lead, and nothing is scheduled and no
// Service endpoint changes until then. (Neither component gives its
// lease back when it stops.) A lease renewed since, or by a node that
// kept running, is left alone.
func releaseStaleLeases(ctx context.Context, cs kubernetes.Interface, cluster string, started []string, since time.Time, log dind.Logger) error {
	return releaseLeases(ctx, cs, cluster, func(l *coordinationv1.Lease) bool { return staleLease(l, started, since) }, log)
}

// releaseLeases deletes the control plane's leader leases that stale says
// nobody holds any more, each delete conditional on the lease not having
// changed since it was read: one taken or renewed meanwhile has a leader.
func releaseLeases(ctx context.Context, cs kubernetes.Interface, cluster string, stale func(*coordinationv1.Lease) bool, log dind.Logger) error {
	for _, name := range leaderLeases() {
		lease, err := cs.CoordinationV1().Leases("kube-system").Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("cluster %s: lease %s: %w", cluster, name, err)
		}
		if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" || !stale(lease) {
			continue
		}
		err = cs.CoordinationV1().Leases("kube-system").Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &lease.UID, ResourceVersion: &lease.ResourceVersion}})
		switch {
		case err == nil:
			log.Printf("[%s] lease %s: held by %s, stopped: released", cluster, name, *lease.Spec.HolderIdentity)
		case apierrors.IsNotFound(err), apierrors.IsConflict(err):
			// Taken or renewed meanwhile: someone leads.
		default:
			return fmt.Errorf("cluster %s: releasing lease %s: %w", cluster, name, err)
		}
	}
	return nil
}

// staleLease says whether a leader lease was last held by a component of
// one of the nodes that were stopped until since. Leader identities are
// <hostname>_<uuid>, and a node's hostname is its name.
func staleLease(l *coordinationv1.Lease, started []string, since time.Time) bool {
	if l.Spec.HolderIdentity == nil || l.Spec.RenewTime == nil || !l.Spec.RenewTime.Time.Before(since) {
		return false
	}
	host, _, ok := strings.Cut(*l.Spec.HolderIdentity, "_")
	return ok && slices.Contains(started, host)
}
