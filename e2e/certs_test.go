package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/docker-rke/docker-rke/deploy"
	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/images"
	"github.com/docker-rke/docker-rke/pki"
	"github.com/docker-rke/docker-rke/runtime"
)

// checkCertRotate, on TestClusters' clusters: cluster2's certificates
// renewed while a watcher reads through its kubeconfig every 100 ms, which
// never fails for longer than an API server's restart; the API server's
// and an etcd member's certificates are new, the CA is not, and the old
// kubeconfig still works. Then cluster1's CAs renewed (--ca): a new CA in
// a new kubeconfig that works, every node Ready.
func checkCertRotate(t *testing.T, dir string, plans map[string]runtime.Cluster) {
	before := clusterCerts(t, "cluster2")
	kubeconfig := filepath.Join(dir, "kube_config_cluster2.yml")
	cs, _ := kubeClient(t, kubeconfig)
	ctx, stop := context.WithCancel(ctxT(t))
	var worst time.Duration
	var reads, failed int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var since time.Time
		for ctx.Err() == nil {
			rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := cs.CoreV1().Namespaces().Get(rctx, "default", metav1.GetOptions{})
			cancel()
			reads++
			switch {
			case err != nil && ctx.Err() == nil:
				failed++
				if since.IsZero() {
					since = time.Now()
				}
				worst = max(worst, time.Since(since))
			case err == nil:
				since = time.Time{}
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	r := docker(t, "rke", "cert", "rotate", "--cluster", "cluster2")
	stop()
	wg.Wait()
	if r.code != 0 || !strings.Contains(r.stdout, "certificates renewed") {
		t.Fatalf("cert rotate cluster2: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("cert rotate cluster2: %d reads, %d failed, the longest outage %s", reads, failed, worst)
	if worst > 20*time.Second {
		t.Errorf("reads through the kubeconfig failed for %s in a row during the rotation", worst)
	}
	after := clusterCerts(t, "cluster2")
	for _, name := range []string{"kube-apiserver", "kube-etcd-cluster2-node1", "kube-node-cluster2-node3"} {
		if string(after[name].CertPEM) == string(before[name].CertPEM) {
			t.Errorf("%s was not renewed", name)
		}
	}
	if string(after[pki.CA].CertPEM) != string(before[pki.CA].CertPEM) {
		t.Error("the CA changed without --ca")
	}
	checkNodesReady(t, cs, plans["cluster2"])

	oldCA := clusterCerts(t, "cluster1")[pki.CA].CertPEM
	// A context merged into a user's kubeconfig is renewed with the rest.
	merged := filepath.Join(t.TempDir(), "config")
	if r := runEnv(t, []string{"KUBECONFIG=" + merged}, "docker", "--config", shared.configDir, "rke", "kubeconfig", "--merge", "cluster1"); r.code != 0 {
		t.Fatalf("kubeconfig --merge cluster1: %s", r.stderr)
	}
	if r := docker(t, "rke", "cert", "rotate", "--ca", "--cluster", "cluster1"); r.code != 0 || !strings.Contains(r.stderr, "context rke-cluster1 in "+merged+" renewed") {
		t.Fatalf("cert rotate --ca cluster1: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	newCA := clusterCerts(t, "cluster1")[pki.CA].CertPEM
	if string(newCA) == string(oldCA) {
		t.Error("--ca kept the CA")
	}
	written, err := os.ReadFile(filepath.Join(dir, "kube_config_cluster1.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(written), base64.StdEncoding.EncodeToString(newCA)) {
		t.Error("the kubeconfig does not carry the new CA")
	}
	cs1, _ := kubeClient(t, filepath.Join(dir, "kube_config_cluster1.yml"))
	checkNodesReady(t, cs1, plans["cluster1"])
	cfg, err := clientcmd.LoadFromFile(merged)
	if err != nil || cfg.Clusters["rke-cluster1"] == nil || string(cfg.Clusters["rke-cluster1"].CertificateAuthorityData) != string(newCA) {
		t.Errorf("the merged context does not trust the new CA: %v", err)
	}
	if cs, err := kubernetes.NewForConfig(mustRESTConfig(t, merged, "rke-cluster1")); err != nil {
		t.Error(err)
	} else if _, err := cs.CoreV1().Nodes().List(ctxT(t), metav1.ListOptions{}); err != nil {
		t.Errorf("the merged context after --ca: %v", err)
	}
}

// mustRESTConfig is the client config of one context of a kubeconfig.
func mustRESTConfig(t *testing.T, file, context string) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(&clientcmd.ClientConfigLoadingRules{ExplicitPath: file}, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// clusterCerts reads a cluster's certificates from its state.
func clusterCerts(t *testing.T, cluster string) pki.Bundle {
	t.Helper()
	data, err := dind.NewEngine(engine(t), testLog{t}).LoadState(ctxT(t), cluster, images.NodeImage(release(t)))
	if err != nil {
		t.Fatal(err)
	}
	var st deploy.State
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	return st.Certificates
}
