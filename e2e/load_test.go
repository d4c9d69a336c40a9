package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/docker-rke/docker-rke/deploy"
	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/internal/tarball"
	"github.com/docker-rke/docker-rke/runtime"
)

// buildImage builds an image with the engine's classic builder from a
// Dockerfile and files, and removes it when the test ends.
func buildImage(t *testing.T, ref, dockerfile string, files map[string][]byte) string {
	t.Helper()
	files["Dockerfile"] = []byte(dockerfile)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	var entries []tarball.Entry
	for _, name := range names {
		entries = append(entries, tarball.File(name, 0o644, files[name]))
	}
	buildContext, err := tarball.Bytes(entries...)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := engine(t).ImageBuild(ctxT(t), bytes.NewReader(buildContext), build.ImageBuildOptions{Tags: []string{ref}, Remove: true, ForceRemove: true, Version: build.BuilderV1})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(resp.Body, io.Discard, 0, false, nil); err != nil {
		t.Fatalf("building %s: %v", ref, err)
	}
	inspect, err := engine(t).ImageInspect(ctxT(t), ref)
	if err != nil {
		t.Fatalf("building %s: %v", ref, err)
	}
	t.Cleanup(func() {
		_, _ = engine(t).ImageRemove(context.Background(), ref, image.RemoveOptions{Force: true, PruneChildren: true})
	})
	return inspect.ID
}

// loadedLabels returns what a node's containerd says of an image: its
// labels, or "" when it does not hold it.
func loadedLabels(t *testing.T, container, name string) string {
	t.Helper()
	out, err := dind.Exec(ctxT(t), engine(t), container, []string{"ctr", "-n", "k8s.io", "images", "ls", "name==" + name})
	if err != nil {
		t.Fatalf("container %s: %v", container, err)
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == name {
			return f[len(f)-1]
		}
	}
	return ""
}

// loadTable reads load's table: node and image to action.
func loadTable(stdout string) map[[2]string]string {
	out := map[[2]string]string{}
	for _, line := range strings.Split(stdout, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] != "NODE" {
			out[[2]string{f[0], f[1]}] = f[2]
		}
	}
	return out
}

// TestLoad loads an image built on the engine into a cluster's nodes and
// runs it as a Deployment on both, reached through a Service; a second
// load skips every node; a docker save archive loads too; bad input and
// a failing node give errors that name them.
func TestLoad(t *testing.T) {
	const cluster = "loadtest"
	requireAbsent(t, cluster)
	rmAtEnd(t, cluster)
	dir := t.TempDir()
	script := writeScript(t, "loadtest.go", `	c := rke.NewCluster("loadtest")
	c.Node("loadtest-node1", rke.All()...)
	c.Node("loadtest-node2", rke.Worker).Taint("dedicated=load:NoSchedule")
`)
	if r := docker(t, "rke", "up", "--kubeconfig-dir", dir, script); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	plan := clusterPlan(t, script, cluster)
	cs, _ := kubeClient(t, filepath.Join(dir, "kube_config_"+cluster+".yml"))
	checkNodesReady(t, cs, plan)

	tools := release(t).Defaults().Tools
	const web = "docker-rke-e2e/web:dev"
	webID := buildImage(t, web, "FROM "+tools+"\nCMD [\"serve\", \"--listen=:8080\"]\n", map[string][]byte{})

	t.Run("load and run", func(t *testing.T) {
		r := docker(t, "-D", "rke", "load", web, "--cluster", cluster)
		if r.code != 0 {
			t.Fatalf("load: exit %d\n%s", r.code, r.stderr)
		}
		// Two nodes: the engine extracted the stage once, through a
		// courier, which was ended and which the engine removes (its
		// removal is not waited for).
		if !strings.Contains(r.stderr, "CopyToContainer rke-loadtest-load-") || strings.Contains(r.stderr, "CopyToContainer rke-dind-loadtest-node") {
			t.Errorf("the stage did not go through a courier alone:\n%s", r.stderr)
		}
		var left string
		err := wait.PollUntilContextTimeout(ctxT(t), 100*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
			left = strings.TrimSpace(run(t, "docker", "ps", "-aq", "--filter", "label="+dind.LabelProbe+"=load").stdout)
			return left == "", nil
		})
		if err != nil {
			t.Errorf("the courier stayed: %s", left)
		}
		table := loadTable(r.stdout)
		for _, n := range plan.Nodes {
			if got := table[[2]string{n.Name, web}]; got != "loaded" {
				t.Errorf("node %s: %q, want loaded:\n%s", n.Name, got, r.stdout)
			}
			for _, want := range []string{"node " + n.Name + ": loading " + web + " (" + webID[:len("sha256:")+12], "node " + n.Name + ": loaded in "} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("load's progress lacks %q:\n%s", want, r.stderr)
				}
			}
			labels := loadedLabels(t, n.ContainerName, "docker.io/"+web)
			for _, want := range []string{dind.LabelImageID + "=" + webID, "io.cri-containerd.pinned=pinned"} {
				if !strings.Contains(labels, want) {
					t.Errorf("node %s: image labels %q lack %q", n.Name, labels, want)
				}
			}
		}
		runWeb(t, cs, plan, "loadtest", web)
	})

	// An image volume (containerd 2.1 or later) holds a loaded image's
	// files: a pod on the tainted worker reads one.
	t.Run("image volume", func(t *testing.T) {
		const data = "docker-rke-e2e/volume-data:1"
		buildImage(t, data, "FROM scratch\nCOPY hello.txt /hello.txt\n", map[string][]byte{"hello.txt": []byte("from an image volume\n")})
		if r := docker(t, "rke", "load", data, "--cluster", cluster); r.code != 0 {
			t.Fatalf("load: exit %d\n%s", r.code, r.stderr)
		}
		const ns = "e2e-image-volume"
		if err := deploy.EnsureProbeNamespace(ctxT(t), cs, ns); err != nil {
			t.Fatal(err)
		}
		pod := deploy.ProbePod(plan, "read-image-volume", "loadtest-node2", "cat", "/data/hello.txt")
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: data, PullPolicy: corev1.PullIfNotPresent}}})
		pod.Spec.Containers[0].VolumeMounts = append(pod.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "data", MountPath: "/data", ReadOnly: true})
		if _, err := cs.CoreV1().Pods(ns).Create(ctxT(t), pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		phase, err := deploy.WaitPodDone(ctxT(t), cs, ns, pod.Name, 2*time.Minute)
		if logs := deploy.PodLogs(ctxT(t), cs, ns, pod.Name); err != nil || phase != corev1.PodSucceeded || logs != "from an image volume\n" {
			t.Errorf("pod with an image volume: %s %v%s, output %q", phase, err, deploy.PodStatus(ctxT(t), cs, ns, pod.Name), logs)
		}
	})

	t.Run("second load skips", func(t *testing.T) {
		r := docker(t, "rke", "load", web, "--cluster", cluster)
		if r.code != 0 {
			t.Fatalf("load: exit %d\n%s", r.code, r.stderr)
		}
		table := loadTable(r.stdout)
		for _, n := range plan.Nodes {
			if got := table[[2]string{n.Name, web}]; got != "skipped" {
				t.Errorf("node %s: %q, want skipped:\n%s", n.Name, got, r.stdout)
			}
			if want := "node " + n.Name + ": already has " + web + ": skipped"; !strings.Contains(r.stderr, want) {
				t.Errorf("load's progress lacks %q:\n%s", want, r.stderr)
			}
		}
		if strings.Contains(r.stderr, "loading") {
			t.Errorf("a second load streamed images:\n%s", r.stderr)
		}
	})

	t.Run("killed load", func(t *testing.T) {
		// A load killed while its courier is up leaves no courier and no
		// part of it in a node: the engine closes their input with the
		// tool's connection.
		// The plugin's own process is killed (killing the docker CLI
		// would leave its plugin running).
		const big = "docker-rke-e2e/web:big"
		data := make([]byte, 128<<20)
		_, _ = rand.Read(data)
		buildImage(t, big, "FROM "+tools+"\nCOPY data /data\n", map[string][]byte{"data": data})
		cmd := exec.Command(shared.binary, "load", big, "--cluster", cluster)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Should the test stop before its kill, the load goes too.
		defer func() { _ = cmd.Process.Kill() }()
		ended := make(chan error, 1)
		go func() { ended <- cmd.Wait() }()
		var seen string
		err := wait.PollUntilContextTimeout(ctxT(t), 20*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
			select {
			case err := <-ended:
				return false, fmt.Errorf("the load ended (%v) before a courier was seen:\n%s", err, stderr.String())
			default:
			}
			seen = strings.TrimSpace(run(t, "docker", "ps", "-q", "--filter", "label="+dind.LabelProbe+"=load").stdout)
			return seen != "", nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-ended
		var left string
		err = wait.PollUntilContextTimeout(ctxT(t), 100*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
			left = strings.TrimSpace(run(t, "docker", "ps", "-aq", "--filter", "label="+dind.LabelProbe+"=load").stdout)
			return left == "", nil
		})
		if err != nil {
			t.Errorf("the killed load's courier %s stayed: %s", seen, left)
		}
		// Nor its part in each node (register.sh), waiting on an input
		// the engine closed with the tool's connection. "[r]" keeps the
		// search from finding itself.
		for _, node := range []string{"rke-dind-loadtest-node1", "rke-dind-loadtest-node2"} {
			var procs string
			err = wait.PollUntilContextTimeout(ctxT(t), 100*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
				procs = strings.TrimSpace(run(t, "docker", "exec", node, "sh", "-c", `grep -l "[r]egister.sh is a node's part" /proc/[0-9]*/cmdline 2>/dev/null; true`).stdout)
				return procs == "", nil
			})
			if err != nil {
				t.Errorf("node %s: the killed load's part stayed: %s", node, procs)
			}
		}
		// The next load of it works, through a courier of its own.
		if r := docker(t, "rke", "load", big, "--cluster", cluster); r.code != 0 {
			t.Errorf("load after a killed one: exit %d\n%s", r.code, r.stderr)
		}
	})

	t.Run("archive", func(t *testing.T) {
		const tagged = "docker-rke-e2e/web:archive"
		id := buildImage(t, tagged, "FROM "+tools+"\nLABEL variant=archive\n", map[string][]byte{})
		file := filepath.Join(t.TempDir(), "web.tar")
		if r := run(t, "docker", "save", "-o", file, tagged); r.code != 0 {
			t.Fatalf("docker save: %s", r.stderr)
		}
		// Only on the worker first: the other node is left alone.
		r := docker(t, "rke", "load", "--archive", file, "--cluster", cluster, "--node", "loadtest-node2")
		if r.code != 0 {
			t.Fatalf("load --archive: exit %d\n%s", r.code, r.stderr)
		}
		table := loadTable(r.stdout)
		if len(table) != 1 || table[[2]string{"loadtest-node2", tagged}] != "loaded" {
			t.Errorf("load --archive --node loadtest-node2:\n%s", r.stdout)
		}
		if labels := loadedLabels(t, "rke-dind-loadtest-node1", "docker.io/"+tagged); labels != "" {
			t.Errorf("node loadtest-node1 got the image it was not asked for: %q", labels)
		}
		if labels := loadedLabels(t, "rke-dind-loadtest-node2", "docker.io/"+tagged); !strings.Contains(labels, dind.LabelImageID+"="+id) {
			t.Errorf("node loadtest-node2: image labels %q lack its ID %s", labels, id)
		}
		// Then every node: the worker has it.
		r = docker(t, "rke", "load", "--archive", file, "--cluster", cluster)
		table = loadTable(r.stdout)
		if r.code != 0 || table[[2]string{"loadtest-node1", tagged}] != "loaded" || table[[2]string{"loadtest-node2", tagged}] != "skipped" {
			t.Errorf("load --archive again: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		// A pod runs it.
		runVersion(t, cs, plan, "archive-version", tagged)
	})

	// Newer engines save an OCI layout, and with a containerd image store
	// keep layers compressed: such an archive loads and runs too.
	t.Run("archive in OCI layout", func(t *testing.T) {
		const tagged = "docker-rke-e2e/web:oci"
		id := buildImage(t, tagged, "FROM "+tools+"\nLABEL variant=oci\n", map[string][]byte{})
		legacy := filepath.Join(t.TempDir(), "legacy.tar")
		if r := run(t, "docker", "save", "-o", legacy, tagged); r.code != 0 {
			t.Fatalf("docker save: %s", r.stderr)
		}
		file := ociArchive(t, legacy)
		r := docker(t, "rke", "load", "--archive", file, "--cluster", cluster)
		table := loadTable(r.stdout)
		if r.code != 0 || table[[2]string{"loadtest-node1", tagged}] != "loaded" || table[[2]string{"loadtest-node2", tagged}] != "loaded" {
			t.Fatalf("load --archive of an OCI layout: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if labels := loadedLabels(t, "rke-dind-loadtest-node2", "docker.io/"+tagged); !strings.Contains(labels, dind.LabelImageID+"="+id) {
			t.Errorf("node loadtest-node2: image labels %q lack its ID %s", labels, id)
		}
		runVersion(t, cs, plan, "oci-version", tagged)
	})

	t.Run("bad input", func(t *testing.T) {
		junk := filepath.Join(t.TempDir(), "junk.tar")
		if err := os.WriteFile(junk, bytes.Repeat([]byte("not a tar "), 200), 0o644); err != nil {
			t.Fatal(err)
		}
		nameless := filepath.Join(t.TempDir(), "nameless.tar")
		if r := run(t, "docker", "save", "-o", nameless, webID); r.code != 0 {
			t.Fatalf("docker save: %s", r.stderr)
		}
		for _, tc := range []struct {
			name string
			args []string
			want []string
		}{
			{"unknown image", []string{web, "docker-rke-e2e/nope:1", "--cluster", cluster}, []string{"image docker-rke-e2e/nope:1 is not on the engine", "never pulls"}},
			{"unknown cluster", []string{web, "--cluster", "loadtest-nope"}, []string{"cluster loadtest-nope", "docker rke ls"}},
			{"unknown node", []string{web, "--cluster", cluster, "--node", "loadtest-node9"}, []string{"no node loadtest-node9", "loadtest-node1, loadtest-node2"}},
			{"missing archive", []string{"--archive", "/nonexistent/web.tar", "--cluster", cluster}, []string{"/nonexistent/web.tar", "no such file"}},
			{"not an archive", []string{"--archive", junk, "--cluster", cluster}, []string{junk, "not a docker save archive"}},
			{"nameless archive", []string{"--archive", nameless, "--cluster", cluster}, []string{nameless, "has no name"}},
			{"image ID", []string{webID, "--cluster", cluster}, []string{webID, "is an image ID"}},
		} {
			r := docker(t, append([]string{"rke", "load"}, tc.args...)...)
			if r.code == 0 {
				t.Errorf("%s: load succeeded:\n%s", tc.name, r.stdout)
			}
			for _, want := range tc.want {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("%s: the error lacks %q:\n%s", tc.name, want, r.stderr)
				}
			}
			if strings.Contains(r.stderr, "loading") {
				t.Errorf("%s: load streamed images before failing:\n%s", tc.name, r.stderr)
			}
		}
		if r := docker(t, "rke", "load", web); r.code != 2 {
			t.Errorf("load without --cluster: exit %d, want 2 (usage)", r.code)
		}
	})

	t.Run("failing node", func(t *testing.T) {
		// The worker's ctr fails to register a layer (the images are
		// named by then); its other commands go to the real one, put
		// back afterwards.
		const fake = "#!/bin/sh\ncase \"$*\" in *'content ingest'*) cat >/dev/null; echo 'injected ingest failure' >&2; exit 1;; esac\nexec /usr/local/bin/ctr.real \"$@\"\n"
		worker := "rke-dind-loadtest-node2"
		if _, err := dind.ExecInput(ctxT(t), engine(t), worker, []string{"sh", "-c", "mv /usr/local/bin/ctr /usr/local/bin/ctr.real && cat >/usr/local/bin/ctr && chmod 755 /usr/local/bin/ctr"}, strings.NewReader(fake)); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if _, err := dind.Exec(context.Background(), engine(t), worker, []string{"mv", "-f", "/usr/local/bin/ctr.real", "/usr/local/bin/ctr"}); err != nil {
				t.Error(err)
			}
		}()
		const other = "docker-rke-e2e/web:other"
		buildImage(t, other, "FROM "+tools+"\nLABEL variant=other\n", map[string][]byte{})
		r := docker(t, "rke", "load", other, "--cluster", cluster)
		if r.code == 0 {
			t.Fatalf("load succeeded with a failing node:\n%s", r.stdout)
		}
		table := loadTable(r.stdout)
		if table[[2]string{"loadtest-node1", other}] != "loaded" || table[[2]string{"loadtest-node2", other}] != "failed" {
			t.Errorf("table:\n%s", r.stdout)
		}
		for _, want := range []string{"node loadtest-node2 (container " + worker + ")", "injected ingest failure", "no longer holds docker.io/" + other} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("the error lacks %q:\n%s", want, r.stderr)
			}
		}
		if strings.Contains(r.stderr, "node loadtest-node1 (") {
			t.Errorf("the error blames the healthy node:\n%s", r.stderr)
		}
		// The failed node took back the name it gave: a later load must
		// not take it for loaded.
		full := "docker.io/" + other
		if got := loadedLabels(t, worker, full); got != "" {
			t.Errorf("node2 kept %s after its layers failed to register: %s", full, got)
		}
		if got := loadedLabels(t, "rke-dind-loadtest-node1", full); !strings.Contains(got, dind.LabelImageID+"=") {
			t.Errorf("node1 lost %s: %q", full, got)
		}
	})

	t.Run("stopped node", func(t *testing.T) {
		if r := run(t, "docker", "stop", "rke-dind-loadtest-node2"); r.code != 0 {
			t.Fatal(r.stderr)
		}
		r := docker(t, "rke", "load", web, "--cluster", cluster)
		if r.code == 0 || !strings.Contains(r.stderr, "node loadtest-node2 (container rke-dind-loadtest-node2) is exited, not running") || strings.Contains(r.stderr, "loading") {
			t.Errorf("load into a stopped node: exit %d\n%s", r.code, r.stderr)
		}
	})

	if r := docker(t, "rke", "rm", cluster); r.code != 0 {
		t.Fatalf("rm: %s", r.stderr)
	}
	assertGone(t, cluster)
}

// runVersion runs `rke-tools version` from a loaded image (one built on
// the release's tools image) in a pod on loadtest-node2, and checks what
// it prints.
func runVersion(t *testing.T, cs kubernetes.Interface, plan runtime.Cluster, name, image string) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			NodeName:      "loadtest-node2",
			Tolerations:   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers:    []corev1.Container{{Name: "version", Image: image, ImagePullPolicy: corev1.PullIfNotPresent, Args: []string{"version"}}},
		},
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctxT(t), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	phase, err := deploy.WaitPodDone(ctxT(t), cs, "default", pod.Name, 2*time.Minute)
	if logs := deploy.PodLogs(ctxT(t), cs, "default", pod.Name); err != nil || phase != corev1.PodSucceeded || !strings.Contains(logs, "rke-tools "+plan.KubernetesVersion) {
		t.Errorf("pod %s from image %s: %s %v%s, logs %q", name, image, phase, err, deploy.PodStatus(ctxT(t), cs, "default", pod.Name), logs)
	}
}

// runWeb runs image as a Deployment web in namespace ns with a pod on
// each node and fetches it through a ClusterIP Service from a probe pod on
// each node.
func runWeb(t *testing.T, cs kubernetes.Interface, c runtime.Cluster, ns, img string) {
	t.Helper()
	ctx := ctxT(t)
	if err := deploy.EnsureProbeNamespace(ctx, cs, ns); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	replicas := int32(len(c.Nodes))
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
					TerminationGracePeriodSeconds: new(int64),
					// One pod per node.
					Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
						RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
							LabelSelector: &metav1.LabelSelector{MatchLabels: labels},
							TopologyKey:   "kubernetes.io/hostname",
						}},
					}},
					Containers: []corev1.Container{{
						Name:            "web",
						Image:           img,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Ports:           []corev1.ContainerPort{{ContainerPort: 8080}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(8080)}},
							PeriodSeconds: 1,
						},
					}},
				},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	readyOn := map[string]string{}
	var pods []corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, nil
		}
		pods = list.Items
		readyOn = map[string]string{}
		for _, p := range list.Items {
			if p.Status.Phase != corev1.PodRunning {
				continue
			}
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
					readyOn[p.Spec.NodeName] = p.Name
				}
			}
		}
		return len(readyOn) == len(c.Nodes), nil
	})
	if err != nil {
		var why []string
		for _, p := range pods {
			why = append(why, p.Name+deploy.PodStatus(ctx, cs, ns, p.Name))
		}
		t.Fatalf("%s: web pods Ready on %v, want one on each of %d nodes: %s", c.Name, readyOn, len(c.Nodes), strings.Join(why, "\n"))
	}

	for i, n := range c.Nodes {
		name := fmt.Sprintf("web-probe-%d", i)
		pod := deploy.ProbePod(c, name, n.Name, "get", "--timeout=60s", "http://web."+ns+"/")
		pod.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		phase, err := deploy.WaitPodDone(ctx, cs, ns, name, 2*time.Minute)
		logs := deploy.PodLogs(ctx, cs, ns, name)
		if err != nil || phase != corev1.PodSucceeded || !strings.Contains(logs, "web-") {
			t.Errorf("%s: fetching the web Service from node %s: %s %v%s, output %q", c.Name, n.Name, phase, err, deploy.PodStatus(ctx, cs, ns, name), logs)
		}
	}
}

// ociArchive rewrites a docker save archive of docker's classic format
// the way newer engines save one: an OCI layout (blobs by digest, an
// index naming the image, an OCI manifest) with manifest.json beside it,
// and its layers gzip-compressed as a containerd image store keeps them.
// It returns the new archive's path.
func ociArchive(t *testing.T, legacy string) string {
	t.Helper()
	f, err := os.Open(legacy)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch h.Typeflag {
		case tar.TypeReg:
			if files[h.Name], err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		case tar.TypeSymlink:
			files[h.Name] = files[path.Join(path.Dir(h.Name), h.Linkname)]
		}
	}
	var saved []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(files["manifest.json"], &saved); err != nil || len(saved) != 1 {
		t.Fatalf("manifest.json: %v %s", err, files["manifest.json"])
	}
	var entries []tarball.Entry
	blob := func(data []byte) ocispec.Descriptor {
		d := digest.FromBytes(data)
		entries = append(entries, tarball.File("blobs/sha256/"+d.Encoded(), 0o644, data))
		return ocispec.Descriptor{Digest: d, Size: int64(len(data))}
	}
	config := blob(files[saved[0].Config])
	config.MediaType = ocispec.MediaTypeImageConfig
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: config}
	m.SchemaVersion = 2
	var layerPaths []string
	for _, l := range saved[0].Layers {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		if _, err := zw.Write(files[l]); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		d := blob(gz.Bytes())
		d.MediaType = ocispec.MediaTypeImageLayerGzip
		m.Layers = append(m.Layers, d)
		layerPaths = append(layerPaths, "blobs/sha256/"+d.Digest.Encoded())
	}
	raw, _ := json.Marshal(m)
	md := blob(raw)
	md.MediaType = ocispec.MediaTypeImageManifest
	md.Annotations = map[string]string{"io.containerd.image.name": "docker.io/" + saved[0].RepoTags[0]}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{md}}
	idx.SchemaVersion = 2
	index, _ := json.Marshal(idx)
	saveMF, _ := json.Marshal([]map[string]any{{"Config": "blobs/sha256/" + config.Digest.Encoded(), "RepoTags": saved[0].RepoTags, "Layers": layerPaths}})
	entries = append(entries,
		tarball.File("index.json", 0o644, index),
		tarball.File("manifest.json", 0o644, saveMF),
		tarball.File(ocispec.ImageLayoutFile, 0o644, []byte(`{"imageLayoutVersion":"1.0.0"}`)),
	)
	data, err := tarball.Bytes(tarball.WithParents(entries)...)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "oci.tar")
	if err := os.WriteFile(out, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}
