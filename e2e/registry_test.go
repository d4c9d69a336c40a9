package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/docker-rke/docker-rke/deploy"
)

// TestRegistryMirror: a lab registry (Debian's docker-registry, a real
// server on the engine's host) serves Docker Hub's and registry.k8s.io's
// images to a cluster that has no other way to pull. Pods that pull
// Always run from it; an image of a registry it does not mirror does not
// pull.
func TestRegistryMirror(t *testing.T) {
	const cluster = "mirrored"
	requireAbsent(t, cluster)
	rmAtEnd(t, cluster)
	// A fixed node network, so the mirror's address is known before up:
	// the network's gateway, which the engine gives its first address
	// and which is the engine's host (the registry could not listen on
	// it otherwise).
	const subnet, gateway = "172.31.250.0/24", "172.31.250.1"
	mirror := fmt.Sprintf("http://%s:%d", gateway, freePort(t))
	dir := t.TempDir()
	script := writeScriptIn(t, dir, "mirrored.go", fmt.Sprintf(`	c := rke.NewCluster("mirrored").Subnet(%q)
	c.RegistryMirror(%q)
	c.RegistryMirror(%[2]q, "registry.k8s.io")
	c.Node("mirrored-node1", rke.All()...)
`, subnet, mirror))
	if r := docker(t, "rke", "up", "--kubeconfig-dir", dir, script); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	node := "rke-dind-mirrored-node1"
	if info := run(t, "docker", "exec", node, "docker", "info", "--format", "{{json .RegistryConfig.Mirrors}}"); !strings.Contains(info.stdout, mirror) {
		t.Errorf("the node's engine does not mirror Docker Hub: %q %q", info.stdout, info.stderr)
	}
	for _, reg := range []string{"docker.io", "registry.k8s.io"} {
		hosts := run(t, "docker", "exec", node, "cat", "/etc/containerd/certs.d/"+reg+"/hosts.toml")
		if !strings.Contains(hosts.stdout, `[host."`+mirror+`"]`) {
			t.Errorf("containerd's hosts.toml for %s lacks the mirror: %s%s", reg, hosts.stdout, hosts.stderr)
		}
	}

	// One store, two servers: the engine pushes to loopback (which it
	// trusts without TLS), the nodes pull from the gateway.
	store := t.TempDir()
	pushTo := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startRegistry(t, store, pushTo)
	servingLog := startRegistry(t, store, strings.TrimPrefix(mirror, "http://"))
	pause := release(t).Defaults().Pause
	for _, repo := range []string{"docker-rke-e2e/hub:mirrored", "docker-rke-e2e/k8s:mirrored"} {
		pushImage(t, pause, pushTo+"/"+repo)
	}

	cs, _ := kubeClient(t, filepath.Join(dir, "kube_config_mirrored.yml"))
	ctx := ctxT(t)
	const ns = "mirrored"
	if err := deploy.EnsureProbeNamespace(ctx, cs, ns); err != nil {
		t.Fatal(err)
	}
	pods := map[string]string{
		"hub":      "docker-rke-e2e/hub:mirrored",                 // docker.io's, through the default mirror
		"k8s":      "registry.k8s.io/docker-rke-e2e/k8s:mirrored", // through the registry.k8s.io mirror
		"unmirror": "quay.io/docker-rke-e2e/k8s:mirrored",         // no mirror, no network: never pulls
	}
	for name, img := range pods {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.PodSpec{
				Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
				TerminationGracePeriodSeconds: new(int64),
				Containers:                    []corev1.Container{{Name: "c", Image: img, ImagePullPolicy: corev1.PullAlways}},
			},
		}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitPodState(t, cs, ns, "hub", "running")
	waitPodState(t, cs, ns, "k8s", "running")
	waitPodState(t, cs, ns, "unmirror", "pull failed")
	served, _ := os.ReadFile(servingLog)
	for _, repo := range []string{"docker-rke-e2e/hub", "docker-rke-e2e/k8s"} {
		if !strings.Contains(string(served), "/v2/"+repo+"/manifests/mirrored") {
			t.Errorf("the mirror on the gateway never served %s:\n%s", repo, served)
		}
	}
}

// startRegistry runs Debian's docker-registry on addr with its store in
// dir until the test ends, and returns the file it logs to.
func startRegistry(t *testing.T, dir, addr string) string {
	t.Helper()
	bin := os.Getenv("DOCKER_RKE_REGISTRY_BINARY") // make e2e sets it
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("docker-registry"); err != nil {
			t.Fatalf("no docker-registry: run the tests with make e2e (scripts/registry-binary.sh finds one), or apt-get install docker-registry: %v", err)
		}
	}
	work := t.TempDir()
	config := filepath.Join(work, "config.yml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", dir, addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(work, "registry.log")
	out, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", config)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = out.Close()
	})
	err = wait.PollUntilContextTimeout(ctxT(t), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		log, _ := os.ReadFile(logFile)
		t.Fatalf("docker-registry on %s never answered: %v\n%s", addr, err, log)
	}
	return logFile
}

// pushImage pushes the engine's image src as ref.
func pushImage(t *testing.T, src, ref string) {
	t.Helper()
	if r := run(t, "docker", "tag", src, ref); r.code != 0 {
		t.Fatalf("tag %s %s: %s", src, ref, r.stderr)
	}
	t.Cleanup(func() { _, _ = engine(t).ImageRemove(context.Background(), ref, image.RemoveOptions{}) })
	if r := run(t, "docker", "push", "-q", ref); r.code != 0 {
		t.Fatalf("push %s: %s%s", ref, r.stdout, r.stderr)
	}
}

// waitPodState waits until a pod runs, or until its image pull has
// failed; which one is want ("running" or "pull failed").
func waitPodState(t *testing.T, cs kubernetes.Interface, ns, name, want string) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(ctxT(t), 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		pod, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = string(pod.Status.Phase)
		for _, s := range pod.Status.ContainerStatuses {
			switch {
			case s.State.Running != nil:
				last = "running"
			case s.State.Waiting != nil && (s.State.Waiting.Reason == "ErrImagePull" || s.State.Waiting.Reason == "ImagePullBackOff"):
				last = "pull failed: " + s.State.Waiting.Message
			case s.State.Waiting != nil:
				last = s.State.Waiting.Reason + ": " + s.State.Waiting.Message
			}
		}
		return strings.HasPrefix(last, want), nil
	})
	if err != nil {
		t.Fatalf("pod %s/%s: want %s, last seen %s", ns, name, want, last)
	}
}
