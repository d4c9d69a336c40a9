package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/network"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/docker-rke/docker-rke/deploy"
	"github.com/docker-rke/docker-rke/dsl"
	"github.com/docker-rke/docker-rke/runtime"
)

// clusterPlan is the plan of one cluster of a definition, as up computes it.
func clusterPlan(t *testing.T, file, cluster string) runtime.Cluster {
	t.Helper()
	if !filepath.IsAbs(file) {
		file = filepath.Join(shared.repo, file)
	}
	def, _, err := dsl.LoadFile(context.Background(), file, dsl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := runtime.Build(def)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Clusters {
		if c.Name == cluster {
			return c
		}
	}
	t.Fatalf("%s has no cluster %s", file, cluster)
	return runtime.Cluster{}
}

func kubeClient(t *testing.T, kubeconfig string) (*kubernetes.Clientset, *rest.Config) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs, cfg
}

// checkNodesReady: every planned node is Ready and shows its roles, as
// the ROLES column of kubectl get nodes does.
func checkNodesReady(t *testing.T, cs kubernetes.Interface, c runtime.Cluster) {
	t.Helper()
	list, err := cs.CoreV1().Nodes().List(ctxT(t), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]corev1.Node{}
	for _, n := range list.Items {
		got[n.Name] = n
	}
	if len(got) != len(c.Nodes) {
		t.Errorf("%s: %d Nodes, want %d", c.Name, len(got), len(c.Nodes))
	}
	for _, pn := range c.Nodes {
		n, ok := got[pn.Name]
		if !ok {
			t.Errorf("%s: no Node %s", c.Name, pn.Name)
			continue
		}
		ready := false
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				ready = cond.Status == corev1.ConditionTrue
			}
		}
		if !ready {
			t.Errorf("%s: node %s is not Ready: %+v", c.Name, pn.Name, n.Status.Conditions)
		}
		var roles, want []string
		for k := range n.Labels {
			if r, ok := strings.CutPrefix(k, "node-role.kubernetes.io/"); ok {
				roles = append(roles, r)
			}
		}
		for _, r := range pn.Roles {
			want = append(want, string(r))
		}
		sort.Strings(roles)
		sort.Strings(want)
		if strings.Join(roles, ",") != strings.Join(want, ",") {
			t.Errorf("%s: node %s has roles %v, want %v", c.Name, pn.Name, roles, want)
		}
		if !strings.HasPrefix(n.Status.NodeInfo.KubeletVersion, c.KubernetesVersion) {
			t.Errorf("%s: node %s runs kubelet %q, want %s", c.Name, pn.Name, n.Status.NodeInfo.KubeletVersion, c.KubernetesVersion)
		}
		// The containerd the release builds, not Debian's 1.6.
		if !strings.HasPrefix(n.Status.NodeInfo.OSImage, "Debian GNU/Linux") {
			t.Errorf("%s: node %s reports OS image %q, want Debian's", c.Name, pn.Name, n.Status.NodeInfo.OSImage)
		}
		if want := "containerd://" + strings.TrimPrefix(release(t).Containerd, "v"); n.Status.NodeInfo.ContainerRuntimeVersion != want || !strings.HasPrefix(want, "containerd://2.") {
			t.Errorf("%s: node %s runs %q, want %s", c.Name, pn.Name, n.Status.NodeInfo.ContainerRuntimeVersion, want)
		}
	}
}

// checkWorkloads runs what a cluster is for: a DaemonSet of HTTP servers
// with a pod on every node, fetched across nodes pod to pod, through a
// ClusterIP Service by address and by name, and a DNS lookup of
// kubernetes.default, each from a pod.
func checkWorkloads(t *testing.T, cs kubernetes.Interface, c runtime.Cluster) {
	t.Helper()
	ctx := ctxT(t)
	ns := "e2e-net"
	if err := deploy.EnsureProbeNamespace(ctx, cs, ns); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "e2e-web"}
	server := deploy.ProbePod(c, "", "", "serve", "--listen=:8080").Spec
	server.RestartPolicy = corev1.RestartPolicyAlways
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-web", Namespace: ns},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: server},
		},
	}
	if _, err := cs.AppsV1().DaemonSets(ns).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-web", Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	svcOut, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// One running server pod on every node.
	podOn := map[string]corev1.Pod{}
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=e2e-web"})
		if err != nil {
			return false, nil
		}
		podOn = map[string]corev1.Pod{}
		for _, p := range list.Items {
			if p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" {
				podOn[p.Spec.NodeName] = p
			}
		}
		return len(podOn) == len(c.Nodes), nil
	})
	if err != nil {
		t.Fatalf("%s: DaemonSet pods running on %d of %d nodes", c.Name, len(podOn), len(c.Nodes))
	}

	type probe struct {
		name, node, want string
		args             []string
	}
	var probes []probe
	for i, n := range c.Nodes {
		// From a pod on this node to the server on the next node.
		target := podOn[c.Nodes[(i+1)%len(c.Nodes)].Name]
		probes = append(probes, probe{
			name: fmt.Sprintf("pod-to-pod-%d", i), node: n.Name, want: target.Name,
			args: []string{"get", "--timeout=60s", fmt.Sprintf("http://%s:8080/", target.Status.PodIP)},
		})
	}
	probes = append(probes,
		probe{name: "cluster-ip", node: c.Nodes[0].Name, want: "e2e-web-", args: []string{"get", "--timeout=60s", fmt.Sprintf("http://%s/", svcOut.Spec.ClusterIP)}},
		probe{name: "service-name", node: c.Nodes[len(c.Nodes)-1].Name, want: "e2e-web-", args: []string{"get", "--timeout=60s", "http://e2e-web." + ns + "/"}},
		probe{name: "nslookup", node: c.Nodes[len(c.Nodes)-1].Name, want: "kubernetes.default: [", args: []string{"lookup", "--timeout=60s", "kubernetes.default"}},
	)
	var wg sync.WaitGroup
	for _, p := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pod := deploy.ProbePod(c, p.name, p.node, p.args...)
			if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				t.Errorf("%s: probe %s: %v", c.Name, p.name, err)
				return
			}
			phase, err := deploy.WaitPodDone(ctx, cs, ns, p.name, 2*time.Minute)
			logs := deploy.PodLogs(ctx, cs, ns, p.name)
			if err != nil || phase != corev1.PodSucceeded || !strings.Contains(logs, p.want) {
				t.Errorf("%s: probe %s on %s (%v): %s %v, output %q, want %q", c.Name, p.name, p.node, p.args, phase, err, logs, p.want)
			}
		}()
	}
	wg.Wait()
}

// TestNotReadyTimesOut: a kubelet that cannot start makes up fail within
// --timeout, with an error that names the node and shows the kubelet's
// last log lines; the cluster this run created is removed.
func TestNotReadyTimesOut(t *testing.T) {
	requireAbsent(t, "notready")
	rmAtEnd(t, "notready")
	dir := t.TempDir()
	script := writeScript(t, "notready.go", `	c := rke.NewCluster("notready")
	c.ExtraArgs(rke.Kubelet, map[string]string{"no-such-flag": "1"})
	c.Node("notready-node1", rke.All()...)
`)
	r := docker(t, "rke", "up", "--timeout", "40s", "--kubeconfig-dir", dir, script)
	if r.code == 0 {
		t.Fatal("up succeeded with a kubelet that cannot start")
	}
	for _, want := range []string{"node notready-node1: kubelet has not registered", "kubelet on node notready-node1, last lines", "unknown flag: --no-such-flag", "cleanup: removed the cluster"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the error lacks %q:\n%s", want, r.stderr)
		}
	}
	assertGone(t, "notready")
	if files, _ := filepath.Glob(filepath.Join(dir, "kube_config_*")); len(files) > 0 {
		t.Errorf("a failed up left %v", files)
	}
}

// TestMultiClusterScript brings up samples/multi.go: every cluster the
// script's loop makes, in parallel, each on its own network with its own
// kubeconfig that sees only its own nodes, all listed by ls.
func TestMultiClusterScript(t *testing.T) {
	requireAbsent(t, "dev", "staging")
	rmAtEnd(t, "dev", "staging")
	dir := t.TempDir()
	if r := docker(t, "rke", "up", "--kubeconfig-dir", dir, "samples/multi.go"); r.code != 0 {
		t.Fatalf("up samples/multi.go: %s", r.stderr)
	}
	ls := docker(t, "rke", "ls", "--format", "{{.Name}} {{.Nodes}}")
	for _, want := range []string{"dev 2", "staging 3"} {
		if !strings.Contains(ls.stdout, want) {
			t.Errorf("ls lacks %q:\n%s", want, ls.stdout)
		}
	}
	subnets := map[string]string{}
	for _, cl := range []string{"dev", "staging"} {
		plan := clusterPlan(t, "samples/multi.go", cl)
		cs, _ := kubeClient(t, filepath.Join(dir, "kube_config_"+cl+".yml"))
		checkNodesReady(t, cs, plan)
		worker, err := cs.CoreV1().Nodes().Get(ctxT(t), cl+"-worker1", metav1.GetOptions{})
		if err != nil || worker.Labels["environment"] != cl {
			t.Errorf("%s-worker1 lacks the script's label environment=%s: %v %v", cl, cl, err, worker.Labels)
		}
		nw, err := engine(t).NetworkInspect(ctxT(t), plan.Network, network.InspectOptions{})
		if err != nil || len(nw.IPAM.Config) == 0 {
			t.Fatalf("%s: network %s: %v", cl, plan.Network, err)
		}
		subnets[cl] = nw.IPAM.Config[0].Subnet
	}
	if subnets["dev"] == subnets["staging"] {
		t.Errorf("dev and staging share subnet %s", subnets["dev"])
	}
}
