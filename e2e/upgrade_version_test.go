package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/docker-rke/docker-rke/images"
)

// TestKubernetesUpgrade upgrades a cluster2-shaped cluster (three nodes of
// every role) in place, RKE-style, from the oldest release docker rke
// builds to the newest, one minor at a time, while a Deployment of three
// replicas with a PodDisruptionBudget (minAvailable 2) runs: up refuses
// to skip a minor and to go back, leaving the cluster untouched; each
// upgrade keeps a snapshot, ends with every node on the new release and
// the objects kept (etcd's members going from v3.6 to v3.7 with v1.37),
// and the Deployment never has fewer than two pods ready.
func TestKubernetesUpgrade(t *testing.T) {
	const cluster = "upg"
	rels := images.Releases() // newest first
	if len(rels) < 3 {
		t.Fatalf("docker rke builds %d releases; the test goes through three", len(rels))
	}
	oldest, middle, newest := rels[2].Kubernetes, rels[1].Kubernetes, rels[0].Kubernetes
	requireAbsent(t, cluster)
	rmAtEnd(t, cluster)
	dir := t.TempDir()
	define := func(version string) string {
		return writeScriptIn(t, dir, "upg.go", fmt.Sprintf(`	c := rke.NewCluster(%q).KubernetesVersion(%q)
	for i := 1; i <= 3; i++ {
		c.Node(fmt.Sprintf("upg-%%d", i), rke.All()...)
	}
`, cluster, version))
	}
	if r := docker(t, "rke", "up", "--kubeconfig-dir", dir, define(oldest)); r.code != 0 {
		t.Fatalf("up at %s: exit %d\n%s", oldest, r.code, r.stderr)
	}
	cs, _ := kubeClient(t, filepath.Join(dir, "kube_config_"+cluster+".yml"))
	ctx := ctxT(t)
	const ns = "upgrade"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kept"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	runGuarded(t, cs, ns, rels[2].Defaults().Pause)
	watch := watchReady(t, cs, ns)

	// Refused: a skipped minor, then (after the first upgrade) going back.
	refused := func(version, want string) {
		t.Helper()
		before := nodeContainers(t, cluster)
		r := docker(t, "rke", "up", "--kubeconfig-dir", dir, define(version))
		if r.code != 1 || !strings.Contains(r.stderr, "cluster "+cluster+" runs Kubernetes") || !strings.Contains(r.stderr, want) {
			t.Errorf("up to %s: exit %d, want 1 and %q:\n%s", version, r.code, want, r.stderr)
		}
		if after := nodeContainers(t, cluster); after != before {
			t.Errorf("a refused up to %s changed the nodes: %s -> %s", version, before, after)
		}
	}
	refused(newest, "skips a minor release")

	var ups []string // each up's progress, for a failure of the guard
	for _, to := range []string{middle, newest} {
		start := time.Now()
		t.Logf("%s: upgrading to %s", start.Format("15:04:05.000"), to)
		wants := []string{"etcd snapshot upgrade-", "node upg-1: draining", "node upg-3: runs " + to + " (3 of 3 nodes upgraded)"}
		if to == newest {
			// Interrupted once its first node runs the new release, the
			// upgrade goes on from the second at the next up.
			interruptAt(t, "node upg-1: runs "+to+" (1 of 3 nodes upgraded)", "up", "--kubeconfig-dir", dir, define(to))
			if got := nodeContainers(t, cluster); strings.Count(got, to) != 1 {
				t.Errorf("after the interrupted upgrade, want one node on %s: %s", to, got)
			}
			wants = []string{"node upg-2: draining", "node upg-3: runs " + to + " (2 of 2 nodes upgraded)"}
		}
		r := docker(t, "rke", "up", "--kubeconfig-dir", dir, define(to))
		if r.code != 0 {
			t.Fatalf("up to %s: exit %d\n%s", to, r.code, r.stderr)
		}
		ups = append(ups, fmt.Sprintf("up to %s from %s:\n%s", to, start.Format("15:04:05.000"), r.stderr))
		t.Logf("upgrade to %s: %s", to, time.Since(start).Round(100*time.Millisecond))
		for _, want := range wants {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("up to %s does not say %q:\n%s", to, want, r.stderr)
			}
		}
		plan := clusterPlan(t, define(to), cluster)
		checkNodesReady(t, cs, plan)
		// etcd too, where the releases pair different ones.
		rel, err := images.Lookup(to)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range plan.Nodes {
			if r := run(t, "docker", "exec", n.ContainerName, "/opt/docker-rke/bin/etcd", "--version"); !strings.Contains(r.stdout, "etcd Version: "+strings.TrimPrefix(rel.Etcd, "v")) {
				t.Errorf("%s runs etcd %q after the upgrade to %s, want %s", n.Name, r.stdout, to, rel.Etcd)
			}
		}
		if sv, err := cs.Discovery().ServerVersion(); err != nil || sv.GitVersion != to {
			t.Errorf("after the upgrade the API server reports %v (%v), want %s", sv, err, to)
		}
		if cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "kept", metav1.GetOptions{}); err != nil || cm.Data["k"] != "v" {
			t.Errorf("the ConfigMap made before the upgrade to %s: %v %+v", to, err, cm)
		}
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes.Items {
			if n.Spec.Unschedulable {
				t.Errorf("node %s is still cordoned after the upgrade to %s", n.Name, to)
			}
		}
		if to == middle {
			refused(oldest, "is a downgrade")
		}
	}
	if r := docker(t, "rke", "etcd", "snapshot", "ls", "--cluster", cluster); !strings.Contains(r.stdout, "upgrade-"+oldest+"-to-"+middle) || !strings.Contains(r.stdout, "upgrade-"+middle+"-to-"+newest) {
		t.Errorf("snapshot ls does not list the snapshots of both upgrades:\n%s%s", r.stdout, r.stderr)
	}
	least, samples := watch()
	t.Logf("the guarded Deployment: at least %d of 3 pods ready over %d reads", least, samples)
	if least < 2 || samples < 20 {
		t.Errorf("the guarded Deployment had %d ready pods at worst (%d reads), want never fewer than 2; the upgrades:\n%s\nthe namespace's events (who deleted or made which pod):\n%s", least, samples, strings.Join(ups, "\n"), namespaceEvents(ctx, cs, ns))
	}
}

// runGuarded runs a Deployment of three pods spread over the nodes, with a
// PodDisruptionBudget that keeps two of them available, and waits until all
// three are ready.
func runGuarded(t *testing.T, cs kubernetes.Interface, ns, image string) {
	t.Helper()
	labels := map[string]string{"app": "guarded"}
	replicas := int32(3)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "guarded", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				// No toleration of NoSchedule taints: one would tolerate a
				// cordon too (node.kubernetes.io/unschedulable), and the
				// scheduler put the pod a drain evicted back on the node
				// being drained, where the node's replacement then took
				// it down, past the budget (seen: "SandboxChanged" 13 s
				// after it started, one pod ready of three).
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "pause", Image: image, ImagePullPolicy: corev1.PullIfNotPresent}},
					TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{
						MaxSkew: 1, TopologyKey: "kubernetes.io/hostname", WhenUnsatisfiable: corev1.ScheduleAnyway,
						LabelSelector: &metav1.LabelSelector{MatchLabels: labels},
					}},
				},
			},
		},
	}
	ctx := ctxT(t)
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	two := intstr.FromInt32(2)
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "guarded", Namespace: ns},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: &two, Selector: &metav1.LabelSelector{MatchLabels: labels}},
	}
	if _, err := cs.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitDeploymentReady(t, cs, ns, "guarded", replicas)
}

// watchReady counts, every 200 ms until the returned function is called,
// the guarded Deployment's pods that are ready on a node that is Ready
// (a pod of a node that went away still shows ready until the node
// controller notices), and returns the fewest it saw and how many reads
// it made. Reads that fail (the API server the kubeconfig names is being
// replaced) count for nothing.
func watchReady(t *testing.T, cs kubernetes.Interface, ns string) func() (int, int) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	least, samples := 1<<30, 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
			pods, err := cs.CoreV1().Pods(ns).List(rctx, metav1.ListOptions{LabelSelector: "app=guarded"})
			var nodes *corev1.NodeList
			if err == nil {
				nodes, err = cs.CoreV1().Nodes().List(rctx, metav1.ListOptions{})
			}
			rcancel()
			if err != nil {
				continue
			}
			readyNode := map[string]bool{}
			for _, n := range nodes.Items {
				readyNode[n.Name] = readyCondition(n) == corev1.ConditionTrue
			}
			ready := 0
			var states []string
			for _, p := range pods.Items {
				if p.DeletionTimestamp == nil && readyNode[p.Spec.NodeName] && podReady(p) {
					ready++
				}
				states = append(states, fmt.Sprintf("%s on %s (node ready %v, pod ready %v, deleting %v)", p.Name, p.Spec.NodeName, readyNode[p.Spec.NodeName], podReady(p), p.DeletionTimestamp != nil))
			}
			mu.Lock()
			if ready < 2 && ready < least {
				// What the guard let through, for whoever reads a failure.
				t.Logf("%s: %d guarded pods ready: %s", time.Now().Format("15:04:05.000"), ready, strings.Join(states, "; "))
			}
			least, samples = min(least, ready), samples+1
			mu.Unlock()
		}
	}()
	stop := func() (int, int) {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return least, samples
	}
	t.Cleanup(func() { stop() })
	return stop
}

// namespaceEvents lists a namespace's events in time order, one a line:
// the controllers, the scheduler and the kubelets say there what they
// did to which pod.
func namespaceEvents(ctx context.Context, cs kubernetes.Interface, ns string) string {
	evs, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	sort.Slice(evs.Items, func(i, j int) bool { return eventTime(evs.Items[i]).Before(eventTime(evs.Items[j])) })
	var b strings.Builder
	for _, e := range evs.Items {
		fmt.Fprintf(&b, "%s %s %s/%s %s: %s (x%d, %s)\n", eventTime(e).Format("15:04:05.000"), e.Type, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message, max(e.Count, 1), e.Source.Component+e.ReportingController)
	}
	return b.String()
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

func readyCondition(n corev1.Node) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// nodeContainers names a cluster's node containers with their IDs and
// releases, to tell whether anything about them changed.
func nodeContainers(t *testing.T, cluster string) string {
	t.Helper()
	r := run(t, "docker", "ps", "-a", "--filter", "label=io.docker-rke.cluster="+cluster, "--format", `{{.Names}} {{.ID}} {{.Label "io.docker-rke.kubernetes-version"}} {{.State}}`)
	if r.code != 0 {
		t.Fatalf("docker ps: %s", r.stderr)
	}
	return strings.Join(strings.Fields(r.stdout), " ")
}

// interruptAt runs the binary with args and sends it SIGINT as soon as its
// log says mark; it fails the test if the command ends before.
func interruptAt(t *testing.T, mark string, args ...string) {
	t.Helper()
	cmd := exec.Command(shared.binary, args...)
	cmd.Dir = shared.repo
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(5 * time.Minute)
	defer deadline.Stop()
	for !strings.Contains(stderr.String(), mark) {
		select {
		case err := <-exited:
			t.Fatalf("%v ended (%v) before saying %q:\n%s", args, err, mark, stderr.String())
		case <-deadline.C:
			_ = cmd.Process.Kill()
			t.Fatalf("%v never said %q:\n%s", args, mark, stderr.String())
		case <-tick.C:
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err == nil {
		t.Fatalf("%v finished although interrupted:\n%s", args, stderr.String())
	}
}
