package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/docker-rke/docker-rke/deploy"
	"github.com/docker-rke/docker-rke/dsl"
	"github.com/docker-rke/docker-rke/images"
	"github.com/docker-rke/docker-rke/runtime"
)

// dailyPhases measures what people do with a running cluster1: load an
// image of about 100 MB into its three nodes (against one docker save of
// it), stop it, start it until every node is Ready and DNS answers, and
// after a restart of the engine, how long until it is Ready again by
// itself.
func dailyPhases(binary string, loadRuns, runs int) ([]Phase, []Metric, error) {
	if out, _ := exec.Command(binary, "ls", "-q").Output(); strings.Contains(string(out), "cluster1\n") {
		return nil, nil, fmt.Errorf("cluster1 exists; the benchmark creates and removes it: remove it first")
	}
	dir, err := os.MkdirTemp("", "bench-daily-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	if _, err := timed(binary, "up", "--kubeconfig-dir", dir, "samples/cluster1.go"); err != nil {
		return nil, nil, err
	}
	defer func() { _ = exec.Command(binary, "rm", "cluster1").Run() }()

	img, err := bigImage(dir)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = exec.Command("docker", "rmi", img).Run() }()
	var saves, loads []time.Duration
	var ratios []float64
	for i := 0; i < loadRuns; i++ {
		// Each timed command starts from a quiet disk: written data
		// flushed (sync), so that neither pays for what ran before it.
		if err := exec.Command("sync").Run(); err != nil {
			return nil, nil, err
		}
		d, err := timed("sh", "-c", "docker save "+img+" >/dev/null")
		if err != nil {
			return nil, nil, err
		}
		saves = append(saves, d)
		// A fresh load each time: the nodes' copies go first, and their
		// deletion ends before the load starts (--sync waits for
		// containerd's garbage collection; measured, a load running into
		// it took 5.1 s instead of 2).
		for _, n := range []string{"rke-dind-cluster1-node1", "rke-dind-cluster1-node2", "rke-dind-cluster1-node3"} {
			_ = exec.Command("docker", "exec", n, "ctr", "-n", "k8s.io", "images", "rm", "--sync", "docker.io/"+img).Run()
		}
		if err := exec.Command("sync").Run(); err != nil {
			return nil, nil, err
		}
		l, err := timed(binary, "load", img, "--cluster", "cluster1")
		if err != nil {
			return nil, nil, err
		}
		loads = append(loads, l)
		ratios = append(ratios, l.Seconds()/d.Seconds())
	}

	var stops, starts, restarts []time.Duration
	kubeconfig := filepath.Join(dir, "kube_config_cluster1.yml")
	plan, err := samplePlan("samples/cluster1.go", "cluster1")
	if err != nil {
		return nil, nil, err
	}
	for i := 0; i < runs; i++ {
		d, err := timed(binary, "stop", "cluster1")
		if err != nil {
			return nil, nil, err
		}
		stops = append(stops, d)
		if d, err = timed(binary, "start", "cluster1"); err != nil {
			return nil, nil, err
		}
		starts = append(starts, d)
		d, err = engineRestart(plan, kubeconfig)
		if err != nil {
			return nil, nil, err
		}
		restarts = append(restarts, d)
	}
	return []Phase{
			summarize("docker save of a 100 MB image to /dev/null", saves, 0, "the engine's own export, the reference for load"),
			summarize("load of it into cluster1's 3 nodes", loads, 0, "one save, its blobs checked once on the way and extracted by the engine once, into one node's /var volume through a courier container that copies them into the other nodes' volumes; each node names the images and links the layers into containerd (the CRI unpacks an image when a node first runs it)"),
			summarize("stop cluster1", stops, 0, "every node stops its components in order, etcd last"),
			summarize("start of a stopped cluster1 until every node is Ready and DNS answers", starts, 10000, "from the command's start: nodes, an API server, fresh Ready from every kubelet, a pod's DNS lookup"),
			summarize("cluster1 Ready again after an engine restart", restarts, 30000, "from the engine answering again (scripts/restart-engine.sh) until every node posted Ready and a pod's DNS lookup succeeded, with no docker rke command"),
		}, []Metric{
			summarizeValues("load into 3 nodes / one docker save", ratios, 2, "ratio"),
		}, nil
}

// bigImage builds an image with 100 MB of incompressible data (like
// binaries) on the release's tools image, and returns its name.
func bigImage(dir string) (string, error) {
	rel, err := images.Lookup(images.DefaultKubernetesVersion())
	if err != nil {
		return "", err
	}
	ctxDir := filepath.Join(dir, "big")
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		return "", err
	}
	data := make([]byte, 100<<20)
	_, _ = rand.Read(data)
	if err := os.WriteFile(filepath.Join(ctxDir, "data"), data, 0o644); err != nil {
		return "", err
	}
	dockerfile := "FROM " + rel.Defaults().Tools + "\nCOPY data /data\n"
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return "", err
	}
	const ref = "docker-rke-bench/big:100m"
	cmd := exec.Command("docker", "build", "-q", "-t", ref, ctxDir)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s: %v\n%s", ref, err, out)
	}
	return ref, nil
}

// engineRestart restarts the engine and returns how long after it
// answered again cluster1 was Ready (every node with a status posted
// since) and a pod's DNS lookup succeeded.
func engineRestart(plan runtime.Cluster, kubeconfig string) (time.Duration, error) {
	if out, err := exec.Command("scripts/restart-engine.sh").CombinedOutput(); err != nil {
		return 0, fmt.Errorf("restarting the engine: %v\n%s", err, out)
	}
	answered := time.Now()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return 0, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	err = wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil || len(list.Items) == 0 {
			return false, nil
		}
		for _, n := range list.Items {
			fresh := false
			for _, c := range n.Status.Conditions {
				fresh = fresh || c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue && !c.LastHeartbeatTime.Time.Before(answered.Truncate(time.Second))
			}
			if !fresh {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return 0, fmt.Errorf("cluster1 not Ready again after the engine's restart: %w", err)
	}
	name := deploy.DNSCheckName(plan)
	pod := deploy.ProbePod(plan, "", "", "lookup", "--timeout=120s", name)
	pod.GenerateName = "bench-dns-"
	const ns = "bench-dns"
	if err := deploy.EnsureProbeNamespace(ctx, cs, ns); err != nil {
		return 0, err
	}
	made, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return 0, err
	}
	defer func() {
		_ = cs.CoreV1().Pods(ns).Delete(context.Background(), made.Name, metav1.DeleteOptions{})
	}()
	// As up and start wait for DNS: until the probe's answer is in its log.
	phase, err := deploy.WaitLookup(ctx, cs, ns, made.Name, name, 3*time.Minute)
	if err != nil || phase != corev1.PodSucceeded {
		return 0, fmt.Errorf("DNS after the engine's restart: %s %v%s", phase, err, deploy.PodStatus(ctx, cs, ns, made.Name))
	}
	return time.Since(answered), nil
}

// samplePlan is the plan of one cluster of a definition file.
func samplePlan(file, cluster string) (runtime.Cluster, error) {
	def, _, err := dsl.LoadFile(context.Background(), file, dsl.Options{})
	if err != nil {
		return runtime.Cluster{}, err
	}
	p, err := runtime.Build(def)
	if err != nil {
		return runtime.Cluster{}, err
	}
	for _, c := range p.Clusters {
		if c.Name == cluster {
			return c, nil
		}
	}
	return runtime.Cluster{}, fmt.Errorf("%s defines no cluster %s", file, cluster)
}
