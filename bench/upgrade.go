package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker-rke/docker-rke/images"
)

// upgradePhases times the in-place upgrade of cluster2 (three nodes of
// every role) from the previous minor release to the newest: up of the
// definition with the new version, from its start until every node runs
// it, is Ready and DNS answers. The images of both releases are there.
func upgradePhases(binary string, runs int) ([]Phase, error) {
	rels := images.Releases()
	if len(rels) < 2 {
		return nil, nil
	}
	from, to := rels[1].Kubernetes, rels[0].Kubernetes
	if out, _ := exec.Command(binary, "ls", "-q").Output(); strings.Contains(string(out), "cluster2\n") {
		return nil, fmt.Errorf("cluster2 exists; the benchmark creates and removes it: remove it first")
	}
	dir, err := os.MkdirTemp("", "bench-upgrade-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	define := func(version string) (string, error) {
		file := filepath.Join(dir, "cluster2-"+version+".go")
		src := fmt.Sprintf(`package main

import (
	"fmt"

	"rke"
)

func main() {
	c := rke.NewCluster("cluster2").KubernetesVersion(%q)
	for i := 1; i <= 3; i++ {
		c.Node(fmt.Sprintf("cluster2-node%%d", i), rke.All()...)
	}
}
`, version)
		return file, os.WriteFile(file, []byte(src), 0o644)
	}
	old, err := define(from)
	if err != nil {
		return nil, err
	}
	next, err := define(to)
	if err != nil {
		return nil, err
	}
	var ups []time.Duration
	for i := 0; i < runs; i++ {
		if _, err := timed(binary, "up", "--kubeconfig-dir", dir, old); err != nil {
			return nil, err
		}
		d, err := timed(binary, "up", "--kubeconfig-dir", dir, next)
		_, rmErr := timed(binary, "rm", "cluster2")
		if err != nil {
			return nil, err
		}
		if rmErr != nil {
			return nil, rmErr
		}
		ups = append(ups, d)
	}
	return []Phase{summarize(fmt.Sprintf("upgrade of cluster2 from %s to %s", from, to), ups, 180000,
		"up with the new version: a snapshot, then node by node drained, replaced with its data and Ready, until DNS answers")}, nil
}
