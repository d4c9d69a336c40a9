package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/docker-rke/docker-rke/deploy"
	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/images"
	"github.com/docker-rke/docker-rke/model"
	"github.com/docker-rke/docker-rke/runtime"
)

// TestClusters brings up the article's cluster1 and cluster2 at once and
// checks, with client-go from the kubeconfigs up wrote: /readyz, etcd,
// controller-manager and scheduler healthy, the admin creates a
// namespace, an anonymous request is refused; every node Ready with its
// roles, a DaemonSet on every node, pod-to-pod traffic across nodes, a
// ClusterIP Service, DNS from pods. A second up recreates no component
// and rewrites no certificate; a worker added to the script is the only
// thing created and turns Ready; rm leaves nothing, kubeconfig included.
// cluster1 is also checked for hardening (checkHardening) and for
// traffic to its own ranges staying inside it (checkContainment); both
// for etcd snapshots saved and restored (checkSnapshots).
func TestClusters(t *testing.T) {
	requireAbsent(t, "cluster1", "cluster2")
	rmAtEnd(t, "cluster1", "cluster2")
	dir := t.TempDir()
	var wg sync.WaitGroup
	results := make([]result, 2)
	for i, file := range []string{"samples/cluster1.go", "samples/cluster2.go"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = docker(t, "rke", "up", "--kubeconfig-dir", dir, file)
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("up #%d: exit %d\n%s", i+1, r.code, r.stderr)
		}
	}
	for _, cl := range []string{"cluster1", "cluster2"} {
		path := filepath.Join(dir, "kube_config_"+cl+".yml")
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", path, st.Mode().Perm())
		}
		cs, cfg := kubeClient(t, path)
		ctx := ctxT(t)
		ready, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").Param("verbose", "true").DoRaw(ctx)
		if err != nil || !strings.Contains(string(ready), "[+]etcd ok") || !strings.Contains(string(ready), "readyz check passed") {
			t.Errorf("%s /readyz?verbose: %v\n%s", cl, err, ready)
		}
		// kubectl get componentstatuses: etcd, controller-manager and
		// scheduler healthy.
		statuses, err := cs.CoreV1().ComponentStatuses().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Errorf("%s: componentstatuses: %v", cl, err)
		} else {
			healthy := map[string]bool{}
			for _, c := range statuses.Items {
				for _, cond := range c.Conditions {
					healthy[strings.TrimSuffix(c.Name, "-0")] = cond.Type == corev1.ComponentHealthy && cond.Status == corev1.ConditionTrue
				}
			}
			for _, want := range []string{"etcd", "controller-manager", "scheduler"} {
				if !healthy[want] {
					t.Errorf("%s: componentstatus %s not healthy: %+v", cl, want, statuses.Items)
				}
			}
		}
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "e2e-" + cl}}
		if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Errorf("%s: the admin cannot create a namespace: %v", cl, err)
		}
		if code := anonymousStatus(t, cfg); code != http.StatusUnauthorized {
			t.Errorf("%s: anonymous request got %d, want 401", cl, code)
		}
		plan := clusterPlan(t, "samples/"+cl+".go", cl)
		checkNodesReady(t, cs, plan)
		checkWorkloads(t, cs, plan)
		if cl == "cluster1" {
			checkHardening(t, plan, path, "cluster1-node2")
			checkContainment(t, cs, plan, plan.Nodes[1])
		}
	}

	// A second up with nothing changed: no component recreated, no
	// certificate rewritten.
	beforeIDs := componentIDs(t, "rke-dind-cluster2-node1")
	e := dind.NewEngine(engine(t), testLog{t})
	img := images.NodeImage(release(t))
	beforeState, err := e.LoadState(ctxT(t), "cluster2", img)
	if err != nil {
		t.Fatal(err)
	}
	if r := docker(t, "rke", "up", "--kubeconfig-dir", dir, "samples/cluster2.go"); r.code != 0 {
		t.Fatalf("second up: %s", r.stderr)
	}
	afterIDs := componentIDs(t, "rke-dind-cluster2-node1")
	for name, id := range beforeIDs {
		if afterIDs[name] != id {
			t.Errorf("%s was recreated by an up with nothing changed", name)
		}
	}
	if len(beforeIDs) != 6 {
		t.Errorf("components on a controlplane+etcd node: %v", beforeIDs)
	}
	afterState, err := e.LoadState(ctxT(t), "cluster2", img)
	if err != nil || string(afterState) != string(beforeState) {
		t.Errorf("an up with nothing changed rewrote the state (certificates): %v", err)
	}

	// cert ls: every certificate, by name, with its issuer and names.
	certs := docker(t, "rke", "cert", "ls", "--cluster", "cluster2")
	lines := map[string]string{}
	for _, l := range strings.Split(certs.stdout, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			lines[f[0]] = l
		}
	}
	if l := lines["kube-etcd-cluster2-node1"]; certs.code != 0 || !strings.Contains(l, "CN=kube-etcd-ca") || !strings.Contains(l, "cluster2-node1") {
		t.Errorf("cert ls: the etcd member's line %q:\n%s%s", l, certs.stdout, certs.stderr)
	}
	if l := lines["kube-admin"]; !strings.Contains(l, "O=docker-rke:admins") || !strings.Contains(l, "(in ") {
		t.Errorf("cert ls: the admin's line %q", l)
	}

	// docker rke kubeconfig prints it; --merge adds context rke-NAME to
	// the kubeconfig kubectl uses.
	printed := docker(t, "rke", "kubeconfig", "cluster1")
	if cfg, err := clientcmd.Load([]byte(printed.stdout)); err != nil || cfg.CurrentContext != "rke-cluster1" {
		t.Errorf("kubeconfig cluster1: %v %q", err, printed.stderr)
	}
	// The API server is also published on 127.0.0.1 of the engine's host
	// (for Docker Desktop); here that host is this one.
	published := docker(t, "rke", "kubeconfig", "--via", "published", "cluster1")
	if pc, err := clientcmd.RESTConfigFromKubeConfig([]byte(published.stdout)); err != nil || !strings.HasPrefix(pc.Host, "https://127.0.0.1:") {
		t.Errorf("kubeconfig --via published: %v %q", err, published.stderr)
	} else if cs, err := kubernetes.NewForConfig(pc); err != nil {
		t.Error(err)
	} else if ready, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctxT(t)); err != nil || string(ready) != "ok" {
		t.Errorf("/readyz through the published port: %v %s", err, ready)
	}
	mine := filepath.Join(dir, "my-kubeconfig")
	if err := os.WriteFile(mine, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster:\n    server: https://example.invalid\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runEnv(t, []string{"KUBECONFIG=" + mine}, "docker", "--config", shared.configDir, "rke", "kubeconfig", "--merge", "cluster1"); r.code != 0 {
		t.Fatalf("kubeconfig --merge: %s", r.stderr)
	}
	merged, err := clientcmd.LoadFromFile(mine)
	if err != nil || merged.CurrentContext != "rke-cluster1" || merged.Clusters["other"] == nil || merged.Clusters["rke-cluster1"] == nil {
		t.Errorf("merged kubeconfig: %v %+v", err, merged)
	} else if cfg, err := clientcmd.NewDefaultClientConfig(*merged, nil).ClientConfig(); err != nil {
		t.Error(err)
	} else if cs, err := kubernetes.NewForConfig(cfg); err != nil {
		t.Error(err)
	} else if _, err := cs.CoreV1().Namespaces().Get(ctxT(t), "e2e-cluster1", metav1.GetOptions{}); err != nil {
		t.Errorf("the merged context does not reach cluster1: %v", err)
	}

	// One worker more in the script: only its node is created, nothing
	// else is touched, and it turns Ready. Recurring etcd snapshots are
	// switched on too: a component more on the etcd node.
	grown := writeScript(t, "cluster1-grown.go", `	c := rke.NewCluster("cluster1")
	c.Node("cluster1-node1", rke.All()...)
	for i := 2; i <= 3; i++ {
		c.Node(fmt.Sprintf("cluster1-node%d", i), rke.Worker)
	}
	c.Node("cluster1-node4", rke.Worker).Label("disk", "ssd").Taint("dedicated=e2e:NoSchedule")
	c.EtcdSnapshots(time.Hour, 3)
`)
	nodesBefore := containerIDs(t, "cluster1")
	compsBefore := map[string]map[string]string{}
	for name := range nodesBefore {
		compsBefore[name] = componentIDs(t, name)
	}
	r := docker(t, "rke", "up", "--kubeconfig-dir", dir, grown)
	if r.code != 0 {
		t.Fatalf("up with a worker added: %s", r.stderr)
	}
	nodesAfter := containerIDs(t, "cluster1")
	if len(nodesAfter) != 4 || nodesAfter["rke-dind-cluster1-node4"] == "" {
		t.Errorf("after adding a worker: %v", nodesAfter)
	}
	for name, id := range nodesBefore {
		if nodesAfter[name] != id {
			t.Errorf("adding a worker replaced node %s", name)
		}
		after := componentIDs(t, name)
		for comp, cid := range compsBefore[name] {
			if after[comp] != cid {
				t.Errorf("adding a worker recreated %s on %s", comp, name)
			}
		}
	}
	cs1, _ := kubeClient(t, filepath.Join(dir, "kube_config_cluster1.yml"))
	checkNodesReady(t, cs1, clusterPlan(t, grown, "cluster1"))
	// The script's label and taint are on the Node.
	if n, err := cs1.CoreV1().Nodes().Get(ctxT(t), "cluster1-node4", metav1.GetOptions{}); err != nil {
		t.Error(err)
	} else {
		if n.Labels["disk"] != "ssd" {
			t.Errorf("node4 labels: %v", n.Labels)
		}
		tainted := false
		for _, taint := range n.Spec.Taints {
			tainted = tainted || (taint.Key == "dedicated" && taint.Value == "e2e" && taint.Effect == corev1.TaintEffectNoSchedule)
		}
		if !tainted {
			t.Errorf("node4 taints: %v", n.Spec.Taints)
		}
	}

	plans := map[string]runtime.Cluster{
		"cluster1": clusterPlan(t, grown, "cluster1"),
		"cluster2": clusterPlan(t, "samples/cluster2.go", "cluster2"),
	}
	checkSnapshots(t, dir, plans)
	checkCertRotate(t, dir, plans)

	for _, cl := range []string{"cluster1", "cluster2"} {
		if r := docker(t, "rke", "rm", cl); r.code != 0 {
			t.Fatalf("rm %s: %s", cl, r.stderr)
		}
		assertGone(t, cl)
		if _, err := os.Stat(filepath.Join(dir, "kube_config_"+cl+".yml")); !os.IsNotExist(err) {
			t.Errorf("rm %s left its kubeconfig: %v", cl, err)
		}
	}
}

// anonymousStatus makes a request that trusts the cluster CA but presents
// no client certificate.
func anonymousStatus(t *testing.T, cfg *rest.Config) int {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cfg.CAData)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, cfg.Host+"/api/v1/namespaces", nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// componentIDs maps the component containers in a node's engine to IDs.
func componentIDs(t *testing.T, node string) map[string]string {
	t.Helper()
	api, err := dind.NodeClient(dind.ExecDialerFactory(engine(t)), node)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	list, err := api.ContainerList(ctxT(t), container.ListOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range list {
		if name := c.Labels[dind.LabelComponent]; name != "" {
			out[name] = c.ID
		}
	}
	return out
}

// TestControlPlaneNodeDown stops the node of cluster2 that holds the
// active controller-manager (every node of cluster2 has every role; a
// worker is added, which reaches the API servers through its node-local
// proxy). With two of three etcd members and two API servers left, the
// API still writes, another controller-manager takes the lease, and a new
// Deployment gets a running pod on the worker, whose kubelet must find a
// live API server through the proxy. Started again and converged by up,
// nothing is recreated and every node is Ready.
func TestControlPlaneNodeDown(t *testing.T) {
	requireAbsent(t, "cluster2")
	rmAtEnd(t, "cluster2")
	dir := t.TempDir()
	script := writeScript(t, "cluster2-worker.go", `	c := rke.NewCluster("cluster2")
	for i := 1; i <= 3; i++ {
		c.Node(fmt.Sprintf("cluster2-node%d", i), rke.All()...)
	}
	c.Node("cluster2-worker", rke.Worker)
`)
	if r := docker(t, "rke", "up", "--kubeconfig-dir", dir, script); r.code != 0 {
		t.Fatalf("up: %s", r.stderr)
	}
	plan := clusterPlan(t, script, "cluster2")
	before := map[string]map[string]string{}
	for _, n := range plan.Nodes {
		before[n.ContainerName] = componentIDs(t, n.ContainerName)
	}
	cs, cfg := kubeClient(t, filepath.Join(dir, "kube_config_cluster2.yml"))
	lease, err := cs.CoordinationV1().Leases("kube-system").Get(ctxT(t), "kube-controller-manager", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil {
		t.Fatalf("controller-manager lease: %v %+v", err, lease)
	}
	leader, _, _ := strings.Cut(*lease.Spec.HolderIdentity, "_")
	var stopped, live runtime.Node
	for _, n := range plan.Nodes {
		if n.Name == leader {
			stopped = n
		} else if live.Name == "" && n.HasRole(model.RoleControlPlane) {
			live = n
		}
	}
	if stopped.Name == "" {
		t.Fatalf("the lease holder %q is no node of cluster2", *lease.Spec.HolderIdentity)
	}
	t.Logf("stopping %s, the active controller-manager's node", stopped.Name)
	// The client goes to a node that stays up: the kubeconfig names the
	// first node's address, which may be the one stopped.
	liveCfg := rest.CopyConfig(cfg)
	liveCfg.Host = "https://" + inspect(t, live.ContainerName).NetworkSettings.Networks[plan.Network].IPAddress + ":6443"
	cs, err = kubernetes.NewForConfig(liveCfg)
	if err != nil {
		t.Fatal(err)
	}

	addrBefore := inspect(t, stopped.ContainerName).NetworkSettings.Networks[plan.Network].IPAddress
	if r := run(t, "docker", "stop", stopped.ContainerName); r.code != 0 {
		t.Fatal(r.stderr)
	}
	// Two of three members: quorum holds, reads and writes go on. If the
	// stopped member led, the other two elect a new leader first, and a
	// write in that moment times out: allow the election its time.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "written-with-two-members"}}
	var lastErr error
	err = wait.PollUntilContextTimeout(ctxT(t), 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, lastErr = cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
		return lastErr == nil, nil
	})
	if err != nil {
		t.Errorf("with one etcd member down the API refuses writes for a minute: %v", lastErr)
	}
	if ready, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctxT(t)); err != nil || string(ready) != "ok" {
		t.Errorf("/readyz with one member down: %v %s", err, ready)
	}
	// Another controller-manager takes over (lease 15 s) and does its
	// work: the Deployment's pod runs on a node that is up.
	var holder string
	err = wait.PollUntilContextTimeout(ctxT(t), time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		l, err := cs.CoordinationV1().Leases("kube-system").Get(ctx, "kube-controller-manager", metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil {
			return false, nil
		}
		holder, _, _ = strings.Cut(*l.Spec.HolderIdentity, "_")
		return holder != stopped.Name, nil
	})
	if err != nil {
		t.Errorf("no other controller-manager took the lease (holder %s)", holder)
	}
	replicas := int32(1)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "after-failover", Namespace: "e2e-failover"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "after-failover"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "after-failover"}},
				Spec:       deploy.ProbePod(plan, "", "", "serve").Spec,
			},
		},
	}
	dep.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
	dep.Spec.Template.Spec.Tolerations = nil
	// On the worker: its kubelet reaches the API servers only through its
	// proxy, which must skip the stopped one.
	dep.Spec.Template.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": "cluster2-worker"}
	if err := deploy.EnsureProbeNamespace(ctxT(t), cs, "e2e-failover"); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AppsV1().Deployments("e2e-failover").Create(ctxT(t), dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var where string
	err = wait.PollUntilContextTimeout(ctxT(t), time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := cs.CoreV1().Pods("e2e-failover").List(ctx, metav1.ListOptions{LabelSelector: "app=after-failover"})
		if err != nil {
			return false, nil
		}
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && p.Spec.NodeName != stopped.Name {
				where = p.Spec.NodeName
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Errorf("with %s down, a new Deployment got no running pod", stopped.Name)
	} else {
		t.Logf("the Deployment's pod runs on %s; controller-manager leader %s", where, holder)
	}

	if r := run(t, "docker", "start", stopped.ContainerName); r.code != 0 {
		t.Fatal(r.stderr)
	}
	checkRestartedNode(t, plan, stopped, addrBefore, cfg)
	checkPublishedKubeconfig(t, plan)
	if r := docker(t, "rke", "up", "--kubeconfig-dir", dir, script); r.code != 0 {
		t.Fatalf("up after the node came back: %s", r.stderr)
	}
	for _, n := range plan.Nodes {
		after := componentIDs(t, n.ContainerName)
		for name, id := range before[n.ContainerName] {
			if after[name] != id {
				t.Errorf("%s: %s was recreated", n.Name, name)
			}
		}
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctxT(t), "written-with-two-members", metav1.GetOptions{}); err != nil {
		t.Errorf("after converging: %v", err)
	}
	checkNodesReady(t, cs, plan)
}

// checkRestartedNode: a node restarted outside up keeps its address, puts
// back its routes to the other nodes' pods by itself, and turns Ready,
// seen through the kubeconfig as up wrote it (which names the first
// controlplane node's address, maybe the restarted node's).
func checkRestartedNode(t *testing.T, plan runtime.Cluster, n runtime.Node, addrBefore string, cfg *rest.Config) {
	t.Helper()
	if addr := inspect(t, n.ContainerName).NetworkSettings.Networks[plan.Network].IPAddress; addr != addrBefore {
		t.Errorf("%s came back with address %s, had %s", n.Name, addr, addrBefore)
	}
	var routes []string
	err := wait.PollUntilContextTimeout(ctxT(t), time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		r := run(t, "docker", "exec", n.ContainerName, "ip", "-4", "route", "show", "proto", "187")
		routes = strings.Fields(r.stdout)
		return r.code == 0 && strings.Count(r.stdout, " via ") == len(plan.Nodes)-1, nil
	})
	if err != nil {
		t.Errorf("%s after its restart: routes to the other nodes' pods: %v, want %d", n.Name, routes, len(plan.Nodes)-1)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var conds []corev1.NodeCondition
	err = wait.PollUntilContextTimeout(ctxT(t), 2*time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		node, err := cs.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		conds = node.Status.Conditions
		for _, c := range conds {
			if c.Type == corev1.NodeReady {
				return c.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Errorf("%s is not Ready again after its restart, before any up: %+v", n.Name, conds)
	}
}

// checkPublishedKubeconfig: docker rke kubeconfig --via published names
// the port the first controlplane node publishes now (the engine picks
// another at each start of the node), and it answers.
func checkPublishedKubeconfig(t *testing.T, plan runtime.Cluster) {
	t.Helper()
	var first runtime.Node
	for _, n := range plan.Nodes {
		if n.HasRole(model.RoleControlPlane) {
			first = n
			break
		}
	}
	r := docker(t, "rke", "kubeconfig", "--via", "published", plan.Name)
	pc, err := clientcmd.RESTConfigFromKubeConfig([]byte(r.stdout))
	if err != nil {
		t.Fatalf("kubeconfig --via published: %v\n%s", err, r.stderr)
	}
	var port string
	for p, b := range inspect(t, first.ContainerName).NetworkSettings.Ports {
		if p.Int() == 6443 && len(b) > 0 {
			port = b[0].HostPort
		}
	}
	if want := "https://127.0.0.1:" + port; port == "" || pc.Host != want {
		t.Errorf("kubeconfig --via published names %s; %s publishes %s now", pc.Host, first.ContainerName, want)
	}
	cs, err := kubernetes.NewForConfig(pc)
	if err != nil {
		t.Fatal(err)
	}
	// The node may have just restarted: give its API server its start.
	var last error
	err = wait.PollUntilContextTimeout(ctxT(t), time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, last = cs.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
		return last == nil, nil
	})
	if err != nil {
		t.Errorf("through the published port %s: %v", pc.Host, last)
	}
}

// TestInterruptDuringEtcd cancels up --retain (SIGINT, as Ctrl-C) once
// it reached the etcd phase; a new up finishes the cluster.
func TestInterruptDuringEtcd(t *testing.T) {
	requireAbsent(t, "cluster1")
	rmAtEnd(t, "cluster1")
	dir := t.TempDir()
	// --retain: an interrupted up keeps what it made, and the next up
	// carries on from there (without it, the cluster would be removed).
	cmd := exec.Command(shared.binary, "up", "--retain", "--kubeconfig-dir", dir, "samples/cluster1.go")
	cmd.Dir = shared.repo
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for !strings.Contains(stderr.String(), "certificates: done") {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("up never reached the etcd phase:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil && strings.Contains(stderr.String(), "control plane: done") {
		t.Log("up finished before the interrupt took effect; the second up still has to converge")
	}
	if r := docker(t, "rke", "up", "--kubeconfig-dir", dir, "samples/cluster1.go"); r.code != 0 {
		t.Fatalf("up after an interrupted up: %s", r.stderr)
	}
	cs, _ := kubeClient(t, filepath.Join(dir, "kube_config_cluster1.yml"))
	if ready, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctxT(t)); err != nil || string(ready) != "ok" {
		t.Errorf("/readyz after finishing: %v %s", err, ready)
	}
}
