package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/docker-rke/docker-rke/deploy"
	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/images"
	"github.com/docker-rke/docker-rke/runtime"
)

// freePort is a port nothing listens on now, on this machine's loopback.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestDailyUse is what a user does on a first day with a cluster: a port
// of a node published on the host, a host folder in the nodes, an image
// of their own loaded and run, reached from the host; the cluster's
// kubeconfig merged into theirs; then the only etcd node replaced (its
// node image changed) with every object, the loaded image and the port
// kept; and rm taking everything back, the merged entries included.
func TestDailyUse(t *testing.T) {
	const cluster = "daily"
	requireAbsent(t, cluster)
	rmAtEnd(t, cluster)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data", "hello.txt"), []byte("hello from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hostPort := freePort(t)
	define := func(nodeImage string) string {
		return writeScriptIn(t, dir, "daily.go", fmt.Sprintf(`	c := rke.NewCluster("daily")
	c.Node("daily-1", rke.All()...).Port(%d, 30080)%s
	c.Node("daily-2", rke.Worker).Mount("data", "/data", true)
	c.Node("daily-3", rke.Worker)
`, hostPort, nodeImage))
	}
	script := define("")
	mine := filepath.Join(t.TempDir(), "config")
	env := []string{"KUBECONFIG=" + mine}
	up := runEnv(t, env, "docker", "--config", shared.configDir, "rke", "up", "--merge", "--kubeconfig-dir", dir, script)
	if up.code != 0 {
		t.Fatalf("up: exit %d\n%s", up.code, up.stderr)
	}
	plan := clusterPlan(t, script, cluster)
	kubeconfig := filepath.Join(dir, "kube_config_daily.yml")
	checkKubeconfigNames(t, kubeconfig, mine)
	cs, _ := kubeClient(t, kubeconfig)
	checkNodesReady(t, cs, plan)

	tools := release(t).Defaults().Tools
	runtimeImage := release(t).Defaults().Runtime
	const web = "docker-rke-e2e/web:daily"
	buildImage(t, web, "FROM "+tools+"\nCMD [\"serve\", \"--listen=:8080\"]\n", map[string][]byte{})
	// Two images in one load: the web server and the runtime image,
	// whose shell reads the mounted folder below.
	for i, want := range []string{"loaded", "skipped"} {
		r := docker(t, "rke", "load", web, runtimeImage, "--cluster", cluster)
		if r.code != 0 {
			t.Fatalf("load #%d: exit %d\n%s", i+1, r.code, r.stderr)
		}
		table := loadTable(r.stdout)
		for _, n := range plan.Nodes {
			for _, img := range []string{web, runtimeImage} {
				if got := table[[2]string{n.Name, img}]; got != want {
					t.Errorf("load #%d: node %s image %s: %q, want %s:\n%s", i+1, n.Name, img, got, want, r.stdout)
				}
			}
		}
	}
	ns := "daily"
	runWeb(t, cs, plan, ns, web)
	exposeNodePort(t, cs, ns, 30080)
	fromHost := checkHTTPFromHost(t, hostPort)
	t.Logf("http://127.0.0.1:%d/ answered from pod %s", hostPort, fromHost)
	checkMountedFile(t, cs, plan, ns, "daily-2", runtimeImage)

	// The only etcd node runs from another node image: up replaces it and
	// it comes back with its data.
	ctx := ctxT(t)
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "keep-me"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	addresses := podAddresses(t, cs, "daily-1")
	apiPort := inspect(t, "rke-dind-daily-1").Config.Labels[dind.LabelAPIPort]
	const retagged = "docker-rke-e2e/node:retagged"
	if err := engine(t).ImageTag(ctx, images.NodeImage(release(t)), retagged); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = engine(t).ImageRemove(context.Background(), retagged, image.RemoveOptions{}) })
	script = define(fmt.Sprintf(".NodeImage(%q)", retagged))
	again := docker(t, "rke", "up", "--kubeconfig-dir", dir, script)
	if again.code != 0 {
		t.Fatalf("up with another node image: exit %d\n%s", again.code, again.stderr)
	}
	for _, want := range []string{
		"node daily-1: replacing container rke-dind-daily-1 (image " + images.NodeImage(release(t)) + " -> " + retagged + "); its data stays in volume rke-dind-daily-1-var",
		"node daily-2: running and up to date",
		"node daily-3: running and up to date",
	} {
		if !strings.Contains(again.stderr, want) {
			t.Errorf("up does not say %q:\n%s", want, again.stderr)
		}
	}
	if got := inspect(t, "rke-dind-daily-1").Config.Labels[dind.LabelAPIPort]; got != apiPort || apiPort == "" {
		t.Errorf("the API server's host port went from %q to %q", apiPort, got)
	}
	if cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "keep-me", metav1.GetOptions{}); err != nil || cm.Data["k"] != "v" {
		t.Errorf("the ConfigMap made before the etcd node was replaced: %v %+v", err, cm)
	}
	if r := run(t, "docker", "exec", "rke-dind-daily-1", "ctr", "-n", "k8s.io", "images", "ls", "-q"); !strings.Contains(r.stdout, "docker.io/"+web) {
		t.Errorf("the replaced node lost the loaded image:\n%s%s", r.stdout, r.stderr)
	}
	checkFreshAddresses(t, cs, addresses)
	waitDeploymentReady(t, cs, ns, "web", int32(len(plan.Nodes)))
	checkHTTPFromHost(t, hostPort)
	if r := docker(t, "rke", "kubeconfig", "--via", "published", cluster); r.code != 0 || !strings.Contains(r.stdout, "https://127.0.0.1:"+apiPort) {
		t.Errorf("kubeconfig --via published does not name port %s: %s %s", apiPort, r.stdout, r.stderr)
	}

	if r := runEnv(t, env, "docker", "--config", shared.configDir, "rke", "rm", cluster); r.code != 0 {
		t.Fatalf("rm: %s", r.stderr)
	}
	assertGone(t, cluster)
	if _, err := os.Stat(kubeconfig); !os.IsNotExist(err) {
		t.Errorf("rm left %s: %v", kubeconfig, err)
	}
	merged, err := clientcmd.LoadFromFile(mine)
	if err != nil || merged.Contexts["rke-daily"] != nil || merged.Clusters["rke-daily"] != nil || merged.AuthInfos["rke-daily"] != nil || merged.CurrentContext == "rke-daily" {
		t.Errorf("rm left the merged entries: %v %+v", err, merged)
	}
}

// checkKubeconfigNames: the cluster's kubeconfig names its cluster, user
// and context rke-NAME, and up --merge put them into kubectl's, current.
func checkKubeconfigNames(t *testing.T, kubeconfig, merged string) {
	t.Helper()
	for _, file := range []string{kubeconfig, merged} {
		cfg, err := clientcmd.LoadFromFile(file)
		if err != nil {
			t.Fatal(err)
		}
		ctx := cfg.Contexts["rke-daily"]
		if cfg.CurrentContext != "rke-daily" || ctx == nil || ctx.Cluster != "rke-daily" || ctx.AuthInfo != "rke-daily" || cfg.AuthInfos["rke-daily"] == nil {
			t.Errorf("%s: want cluster, user and context rke-daily, current: %+v", file, cfg)
		}
	}
	st, err := os.Stat(merged)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, mode %v", merged, err, st.Mode().Perm())
	}
}

// exposeNodePort makes the web pods a NodePort Service on nodePort.
func exposeNodePort(t *testing.T, cs kubernetes.Interface, ns string, nodePort int32) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web-nodeport", Namespace: ns},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeNodePort,
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080), NodePort: nodePort}},
		},
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctxT(t), svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// checkHTTPFromHost fetches the web pods from this machine through the
// port the definition publishes, and returns the answering pod's name.
func checkHTTPFromHost(t *testing.T, hostPort int) string {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d/", hostPort)
	// A new connection each try: kept alive, one that reached a stale
	// endpoint would keep reaching it.
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var body, last string
	err := wait.PollUntilContextTimeout(ctxT(t), 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		resp, err := hc.Get(url)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		body, last = strings.TrimSpace(string(data)), fmt.Sprintf("%d %s", resp.StatusCode, data)
		return resp.StatusCode == http.StatusOK && strings.HasPrefix(body, "web-"), nil
	})
	if err != nil {
		t.Fatalf("GET %s from the host: %v (last: %s)", url, err, last)
	}
	return body
}

// checkMountedFile: a hostPath pod on node reads the file of the host
// folder the definition mounts there.
func checkMountedFile(t *testing.T, cs kubernetes.Interface, c runtime.Cluster, ns, node, img string) {
	t.Helper()
	ctx := ctxT(t)
	dirType := corev1.HostPathDirectory
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "read-mount", Namespace: ns},
		Spec: corev1.PodSpec{
			NodeName:      node,
			RestartPolicy: corev1.RestartPolicyNever,
			Tolerations:   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers: []corev1.Container{{
				Name:            "read",
				Image:           img,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Command:         []string{"/usr/bin/dash", "-c", `read -r line </host/hello.txt && echo "read: $line"`},
				VolumeMounts:    []corev1.VolumeMount{{Name: "host", MountPath: "/host", ReadOnly: true}},
			}},
			Volumes: []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data", Type: &dirType}}}},
		},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	phase, err := deploy.WaitPodDone(ctx, cs, ns, pod.Name, 2*time.Minute)
	logs := deploy.PodLogs(ctx, cs, ns, pod.Name)
	if err != nil || phase != corev1.PodSucceeded || !strings.Contains(logs, "read: hello from the host") {
		t.Errorf("%s: a hostPath pod on %s reading the mounted folder: %s %v%s, output %q", c.Name, node, phase, err, deploy.PodStatus(ctx, cs, ns, pod.Name), logs)
	}
}

// waitDeploymentReady waits until a Deployment has replicas ready.
func waitDeploymentReady(t *testing.T, cs kubernetes.Interface, ns, name string, replicas int32) {
	t.Helper()
	var last *appsv1.Deployment
	err := wait.PollUntilContextTimeout(ctxT(t), 500*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = d
		return d.Status.ReadyReplicas == replicas, nil
	})
	if err != nil {
		t.Fatalf("deployment %s/%s: %v; status %+v", ns, name, err, last)
	}
}

// TestPortTakenOnHost: a port the definition publishes that a program of
// the host holds is an error naming the port and the node, and nothing is
// left behind.
func TestPortTakenOnHost(t *testing.T) {
	const cluster = "taken"
	requireAbsent(t, cluster)
	rmAtEnd(t, cluster)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	script := writeScriptIn(t, t.TempDir(), "taken.go", fmt.Sprintf(`	c := rke.NewCluster("taken")
	c.Node("taken-1", rke.All()...)
	c.Node("taken-2", rke.Worker).Port(%d, 30080)
`, port))
	r := docker(t, "rke", "up", "--nodes-only", script)
	if r.code == 0 {
		t.Fatalf("up with a host port in use succeeded:\n%s", r.stderr)
	}
	for _, want := range []string{"node taken-2", fmt.Sprintf("host port 127.0.0.1:%d (node port 30080/tcp) is already in use", port)} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the error does not say %q:\n%s", want, r.stderr)
		}
	}
	assertGone(t, cluster)
}

// TestStopStart stops cluster2 (three nodes with every role) and starts it
// again: every node Ready and DNS answering, objects kept, and each node
// stopped its components in order (no component killed at the end of its
// grace period).
func TestStopStart(t *testing.T) {
	const cluster = "cluster2"
	requireAbsent(t, cluster)
	rmAtEnd(t, cluster)
	dir := t.TempDir()
	if r := docker(t, "rke", "up", "--kubeconfig-dir", dir, "samples/cluster2.go"); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	plan := clusterPlan(t, "samples/cluster2.go", cluster)
	cs, _ := kubeClient(t, filepath.Join(dir, "kube_config_cluster2.yml"))
	ctx := ctxT(t)
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kept"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range plan.Nodes {
		names = append(names, n.Name)
	}
	addresses := podAddresses(t, cs, names...)
	stop := docker(t, "rke", "stop", cluster)
	if stop.code != 0 {
		t.Fatalf("stop: exit %d\n%s", stop.code, stop.stderr)
	}
	// stop gives the controller-manager's leader lease back while its API
	// servers still answer, so that start has no stale lease to release.
	if !strings.Contains(stop.stderr, "lease kube-controller-manager: held by ") {
		t.Errorf("stop gave no lease back:\n%s", stop.stderr)
	}
	for _, n := range plan.Nodes {
		if c := inspect(t, n.ContainerName); c.State.Running {
			t.Errorf("%s still runs after stop", n.ContainerName)
		}
	}
	checkLsState(t, cluster, "stopped", -1)
	start := docker(t, "rke", "start", cluster)
	if start.code != 0 {
		t.Fatalf("start: exit %d\n%s", start.code, start.stderr)
	}
	if !strings.Contains(start.stdout, "cluster2: every node Ready and DNS answering") {
		t.Errorf("start says:\n%s", start.stdout)
	}
	if strings.Contains(start.stderr, "lease kube-controller-manager") {
		t.Errorf("start found a stale lease that stop should have given back:\n%s", start.stderr)
	}
	checkNodesReady(t, cs, plan)
	checkFreshAddresses(t, cs, addresses)
	if cm, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "kept", metav1.GetOptions{}); err != nil || cm.Data["k"] != "v" {
		t.Errorf("the ConfigMap made before stop: %v %+v", err, cm)
	}
	checkLsState(t, cluster, "running", len(plan.Nodes))
	for _, n := range plan.Nodes {
		// The engine's log names the container it killed by ID.
		r := run(t, "docker", "exec", n.ContainerName, "sh", "-c", `grep "failed to exit within" /var/log/dockerd.log && docker ps -a --no-trunc --format '{{.ID}} {{.Names}}'`)
		if r.code == 0 {
			t.Errorf("%s: a component had to be killed at stop:\n%s", n.ContainerName, r.stdout)
		}
	}
}

// checkLsState: ls --format json shows the cluster's state and, for
// ready >= 0, its Ready count.
func checkLsState(t *testing.T, cluster, state string, ready int) {
	t.Helper()
	r := docker(t, "rke", "ls", "--format", "{{.Name}} {{.State}} {{.ReadyNodes}} {{.ReadyKnown}}")
	if r.code != 0 {
		t.Fatalf("ls: %s", r.stderr)
	}
	want := fmt.Sprintf("%s %s %d true", cluster, state, ready)
	if ready < 0 {
		want = cluster + " " + state + " "
	}
	if !strings.Contains(r.stdout, want) {
		t.Errorf("ls: want %q in:\n%s", want, r.stdout)
	}
}

// TestEngineRestart restarts the outer engine with two clusters, one
// running and one stopped: the running one comes back by itself (nodes,
// addresses, pod routes, components, every node Ready, DNS) with no up,
// and its kubeconfig still works; the stopped one stays stopped.
func TestEngineRestart(t *testing.T) {
	requireAbsent(t, "restart-a", "restart-b")
	rmAtEnd(t, "restart-a", "restart-b")
	dir := t.TempDir()
	script := writeScriptIn(t, dir, "restart.go", `	a := rke.NewCluster("restart-a")
	a.Node("restart-a1", rke.All()...)
	a.Node("restart-a2", rke.Worker)
	b := rke.NewCluster("restart-b")
	b.Node("restart-b1", rke.All()...)
`)
	if r := docker(t, "rke", "up", "--kubeconfig-dir", dir, script); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	if r := docker(t, "rke", "stop", "restart-b"); r.code != 0 {
		t.Fatalf("stop: %s", r.stderr)
	}
	restart := exec.Command(filepath.Join(shared.repo, "scripts", "restart-engine.sh"))
	if out, err := restart.CombinedOutput(); err != nil {
		t.Fatalf("restarting the engine: %v\n%s", err, out)
	}
	answered := time.Now()
	plan := clusterPlan(t, script, "restart-a")
	cs, _ := kubeClient(t, filepath.Join(dir, "kube_config_restart-a.yml"))
	waitFreshReady(t, cs, plan, answered)
	checkDNS(t, cs, plan)
	t.Logf("restart-a: every node Ready and DNS answering %s after the engine answered again", time.Since(answered).Round(100*time.Millisecond))
	if c := inspect(t, clusterPlan(t, script, "restart-b").Nodes[0].ContainerName); c.State.Running {
		t.Error("restart-b was stopped and runs again after the engine's restart")
	}
	checkLsState(t, "restart-b", "stopped", -1)
	if r := docker(t, "rke", "start", "restart-b"); r.code != 0 {
		t.Errorf("start restart-b after the engine's restart: %s", r.stderr)
	}
}

// waitFreshReady waits until every node of the plan is Ready with a status
// its kubelet posted after since.
func waitFreshReady(t *testing.T, cs kubernetes.Interface, c runtime.Cluster, since time.Time) {
	t.Helper()
	why := map[string]string{}
	err := wait.PollUntilContextTimeout(ctxT(t), 500*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			why["api"] = err.Error()
			return false, nil
		}
		delete(why, "api")
		ready := 0
		for _, n := range list.Items {
			for _, cond := range n.Status.Conditions {
				if cond.Type != corev1.NodeReady {
					continue
				}
				if cond.Status == corev1.ConditionTrue && !cond.LastHeartbeatTime.Time.Before(since.Truncate(time.Second)) {
					ready++
					delete(why, n.Name)
				} else {
					why[n.Name] = fmt.Sprintf("%s at %s", cond.Status, cond.LastHeartbeatTime)
				}
			}
		}
		return ready == len(c.Nodes), nil
	})
	if err != nil {
		t.Fatalf("%s: not every node Ready again: %v %v", c.Name, err, why)
	}
}

// checkDNS: a pod resolves kubernetes.default.
func checkDNS(t *testing.T, cs kubernetes.Interface, c runtime.Cluster) {
	t.Helper()
	ctx := ctxT(t)
	const ns = "e2e-dns"
	if err := deploy.EnsureProbeNamespace(ctx, cs, ns); err != nil {
		t.Fatal(err)
	}
	pod := deploy.ProbePod(c, "dns-after-restart", "", "lookup", "--timeout=120s", "kubernetes.default.svc."+c.ClusterDomain+".")
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	phase, err := deploy.WaitPodDone(ctx, cs, ns, pod.Name, 3*time.Minute)
	if err != nil || phase != corev1.PodSucceeded {
		t.Errorf("%s: DNS lookup from a pod: %s %v%s %s", c.Name, phase, err, deploy.PodStatus(ctx, cs, ns, pod.Name), deploy.PodLogs(ctx, cs, ns, pod.Name))
	}
}
