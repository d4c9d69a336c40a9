package pki

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/docker-rke/docker-rke/model"
)

func TestKubeconfig(t *testing.T) {
	b, _ := ensure(t, nil, cluster(t, model.Node{Name: "cp1", Roles: all}), nil)
	data, err := b.Kubeconfig("cluster1", "https://127.0.0.1:6443", "kube-admin")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	rest, err := clientcmd.NewDefaultClientConfig(*cfg, nil).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	if rest.Host != "https://127.0.0.1:6443" || cfg.CurrentContext != "cluster1" {
		t.Errorf("host %q context %q", rest.Host, cfg.CurrentContext)
	}
	pair, err := tls.X509KeyPair(rest.CertData, rest.KeyData)
	if err != nil {
		t.Fatalf("client certificate and key do not match: %v", err)
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	if leaf.Subject.CommonName != "kube-admin" {
		t.Errorf("kubeconfig user %q", leaf.Subject.CommonName)
	}
	if _, err := b.Kubeconfig("c", "https://x", "nobody"); err == nil {
		t.Error("a kubeconfig for a missing certificate was made")
	}

	path := filepath.Join(t.TempDir(), "kube_config_cluster1.yml")
	if err := WriteKubeconfig(path, data); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode %v, want 0600", st.Mode().Perm())
	}
}

func TestAdminKubeconfigNames(t *testing.T) {
	b, _ := ensure(t, nil, cluster(t, model.Node{Name: "cp1", Roles: all}), nil)
	data, err := b.AdminKubeconfig("dev", "https://127.0.0.1:41000")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	ctx := cfg.Contexts["rke-dev"]
	if cfg.CurrentContext != "rke-dev" || ctx == nil || ctx.Cluster != "rke-dev" || ctx.AuthInfo != "rke-dev" || cfg.AuthInfos["rke-dev"] == nil || cfg.Clusters["rke-dev"] == nil {
		t.Errorf("want cluster, user and context rke-dev: %+v", cfg)
	}
}

// Two clusters merge side by side; unmerging one leaves the other and the
// user's own entries, and unsets a current context that was its.
func TestMergeAndUnmerge(t *testing.T) {
	b, _ := ensure(t, nil, cluster(t, model.Node{Name: "cp1", Roles: all}), nil)
	dir := t.TempDir()
	own := filepath.Join(dir, "config")
	second := filepath.Join(dir, "second")
	if err := os.WriteFile(own, []byte("apiVersion: v1\nkind: Config\ncurrent-context: mine\ncontexts:\n- name: mine\n  context: {cluster: mine, user: mine}\nclusters:\n- name: mine\n  cluster: {server: https://mine.example}\nusers:\n- name: mine\n  user: {token: secret}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", own+string(os.PathListSeparator)+second)
	for _, name := range []string{"a", "b"} {
		data, err := b.AdminKubeconfig(name, "https://"+name+".example")
		if err != nil {
			t.Fatal(err)
		}
		file, err := MergeKubeconfig(data, MergeOptions{Switch: name == "a"})
		if err != nil || file != own {
			t.Fatalf("merge %s: %q %v", name, file, err)
		}
	}
	cfg, err := clientcmd.LoadFromFile(own)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CurrentContext != "rke-a" || len(cfg.Contexts) != 3 || cfg.AuthInfos["rke-b"] == nil || cfg.AuthInfos["mine"].Token != "secret" {
		t.Fatalf("after merging a (switch) and b (no switch): current %q, %d contexts", cfg.CurrentContext, len(cfg.Contexts))
	}
	if st, _ := os.Stat(own); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	if err := UnmergeKubeconfig(own, "a"); err != nil {
		t.Fatal(err)
	}
	cfg, err = clientcmd.LoadFromFile(own)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CurrentContext != "" || cfg.Contexts["rke-a"] != nil || cfg.Clusters["rke-a"] != nil || cfg.AuthInfos["rke-a"] != nil || cfg.Contexts["rke-b"] == nil || cfg.Contexts["mine"] == nil {
		t.Errorf("after unmerging a: %+v", cfg)
	}
	if err := UnmergeKubeconfig(filepath.Join(dir, "gone"), "b"); err != nil {
		t.Errorf("a missing file: %v", err)
	}
}
