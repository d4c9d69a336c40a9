package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/cli/cli/command"
	cliflags "github.com/docker/cli/cli/flags"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/docker-rke/docker-rke/dind"
)

// engineOnce builds one API client for the tests, the way the plugin does.
var engineOnce = sync.OnceValues(func() (client.APIClient, error) {
	cli, err := command.NewDockerCli()
	if err != nil {
		return nil, err
	}
	if err := cli.Initialize(cliflags.NewClientOptions()); err != nil {
		return nil, err
	}
	return cli.Client(), nil
})

func engine(t *testing.T) client.APIClient {
	t.Helper()
	api, err := engineOnce()
	if err != nil {
		t.Fatal(err)
	}
	return api
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// labelled lists what carries a cluster's label (or any docker rke label
// when cluster is empty).
func labelled(t *testing.T, cluster string) (containers, networks, volumes []string) {
	t.Helper()
	api, ctx := engine(t), ctxT(t)
	f := filters.NewArgs(filters.Arg("label", dind.LabelCluster))
	if cluster != "" {
		f = filters.NewArgs(filters.Arg("label", dind.LabelCluster+"="+cluster))
	}
	cs, err := api.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		containers = append(containers, c.Names...)
	}
	ns, err := api.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		networks = append(networks, n.Name)
	}
	vs, err := api.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs.Volumes {
		volumes = append(volumes, v.Name)
	}
	return containers, networks, volumes
}

func volumeCount(t *testing.T) int {
	t.Helper()
	vs, err := engine(t).VolumeList(ctxT(t), volume.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return len(vs.Volumes)
}

// assertGone checks through the engine's API that nothing of the cluster
// is left.
func assertGone(t *testing.T, cluster string) {
	t.Helper()
	c, n, v := labelled(t, cluster)
	if len(c)+len(n)+len(v) > 0 {
		t.Errorf("cluster %s left containers %v, networks %v, volumes %v", cluster, c, n, v)
	}
}

// requireAbsent fails when a cluster the test is about to create exists:
// the tests would otherwise change a cluster that is not theirs.
func requireAbsent(t *testing.T, clusters ...string) {
	t.Helper()
	for _, cl := range clusters {
		if c, n, _ := labelled(t, cl); len(c)+len(n) > 0 {
			t.Fatalf("cluster %s exists on this engine; the e2e tests create and remove it: remove it first (docker rke rm %s)", cl, cl)
		}
	}
}

// rm removes clusters at the end of a test, whatever happened.
func rmAtEnd(t *testing.T, clusters ...string) {
	t.Cleanup(func() {
		for _, cl := range clusters {
			if c, n, v := labelled(t, cl); len(c)+len(n)+len(v) > 0 {
				docker(t, "rke", "rm", cl)
			}
		}
	})
}

// writeScript writes a cluster script into a temporary directory.
func writeScript(t *testing.T, name, body string) string {
	t.Helper()
	return writeScriptIn(t, t.TempDir(), name, body)
}

// writeScriptIn writes a cluster script into dir (relative mount paths
// resolve against it): body is main's, which may use fmt and time.
func writeScriptIn(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	src := "package main\n\nimport (\n\t\"fmt\"\n\t\"time\"\n\n\t\"rke\"\n)\n\nvar (\n\t_ = fmt.Sprint\n\t_ = time.Second\n)\n\nfunc main() {\n" + body + "}\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// helloImage is a one-file image: a static Go program that prints its
// argument. It is built here and loaded into node engines through the
// tunnel, since no registry is reachable.
var helloImage = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "hello-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	src := "package main\n\nimport (\"fmt\"; \"os\")\n\nfunc main() { fmt.Println(\"hello from\", os.Args[1]) }\n"
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "hello"), filepath.Join(dir, "main.go"))
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building hello: %v\n%s", err, out)
	}
	bin, err := os.ReadFile(filepath.Join(dir, "hello"))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "hello", Mode: 0o755, Size: int64(len(bin))}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, err
	}
	return buf.Bytes(), tw.Close()
})

// runInNode imports the hello image into the node's own engine through
// the tunnel, runs it there and returns what it printed.
func runInNode(t *testing.T, node string) string {
	t.Helper()
	ctx := ctxT(t)
	layer, err := helloImage()
	if err != nil {
		t.Fatal(err)
	}
	nodeAPI, err := dind.NodeClient(dind.ExecDialerFactory(engine(t)), node)
	if err != nil {
		t.Fatal(err)
	}
	defer nodeAPI.Close()
	resp, err := nodeAPI.ImageImport(ctx, image.ImportSource{Source: bytes.NewReader(layer), SourceName: "-"}, "e2e-hello:1", image.ImportOptions{})
	if err != nil {
		t.Fatalf("node %s: import through the tunnel: %v", node, err)
	}
	_, _ = bytes.NewBuffer(nil).ReadFrom(resp)
	resp.Close()
	created, err := nodeAPI.ContainerCreate(ctx, &container.Config{Image: "e2e-hello:1", Cmd: []string{"/hello", node}},
		&container.HostConfig{NetworkMode: "none"}, nil, nil, "")
	if err != nil {
		t.Fatalf("node %s: create: %v", node, err)
	}
	defer nodeAPI.ContainerRemove(context.WithoutCancel(ctx), created.ID, container.RemoveOptions{Force: true})
	if err := nodeAPI.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		t.Fatalf("node %s: start: %v", node, err)
	}
	waitC, errC := nodeAPI.ContainerWait(ctx, created.ID, container.WaitConditionNotRunning)
	select {
	case <-waitC:
	case err := <-errC:
		t.Fatalf("node %s: wait: %v", node, err)
	}
	logs, err := nodeAPI.ContainerLogs(ctx, created.ID, container.LogsOptions{ShowStdout: true})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	var out strings.Builder
	if _, err := stdcopy.StdCopy(&out, &out, logs); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// containerIDs maps a cluster's container names to their IDs.
func containerIDs(t *testing.T, cluster string) map[string]string {
	t.Helper()
	cs, err := engine(t).ContainerList(ctxT(t), container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", dind.LabelCluster+"="+cluster))})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range cs {
		out[strings.TrimPrefix(c.Names[0], "/")] = c.ID
	}
	return out
}

func inspect(t *testing.T, name string) container.InspectResponse {
	t.Helper()
	c, err := engine(t).ContainerInspect(ctxT(t), name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
