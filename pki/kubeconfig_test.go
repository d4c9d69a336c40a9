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
	if err := UnmergeKubeconfig(own, "a", b[CA].CertPEM); err != nil {
		t.Fatal(err)
	}
	cfg, err = clientcmd.LoadFromFile(own)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CurrentContext != "" || cfg.Contexts["rke-a"] != nil || cfg.Clusters["rke-a"] != nil || cfg.AuthInfos["rke-a"] != nil || cfg.Contexts["rke-b"] == nil || cfg.Contexts["mine"] == nil {
		t.Errorf("after unmerging a: %+v", cfg)
	}
	if err := UnmergeKubeconfig(filepath.Join(dir, "gone"), "b", b[CA].CertPEM); err != nil {
		t.Errorf("a missing file: %v", err)
	}
}

// rm reads the kubeconfig's path from the cluster's state, which anyone
// who can write the engine's volumes can change: it removes only the file
// up wrote for the cluster, and only the merged entries of this cluster.
func TestRemoveKubeconfigOnlyTheClustersOwn(t *testing.T) {
	b, _ := ensure(t, nil, cluster(t, model.Node{Name: "cp1", Roles: all}), nil)
	other, _ := ensure(t, nil, cluster(t, model.Node{Name: "cp1", Roles: all}), nil)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	mine, err := b.AdminKubeconfig("dev", "https://a")
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := other.AdminKubeconfig("dev", "https://b")
	if err != nil {
		t.Fatal(err)
	}
	ca := b[CA].CertPEM
	for _, tt := range []struct {
		name    string
		path    string
		removed bool
	}{
		{"a file of another name", write("precious.txt", mine), false},
		{"another cluster's kubeconfig of the right name", filepath.Join(write("sub", nil)+"-dir", "kube_config_dev.yml"), false},
		{"not a kubeconfig", write("kube_config_dev.yml", []byte("my notes")), false},
	} {
		if tt.name == "another cluster's kubeconfig of the right name" {
			if err := os.MkdirAll(filepath.Dir(tt.path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(tt.path, theirs, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		removed, err := RemoveKubeconfig(tt.path, "dev", ca)
		if err != nil || removed != tt.removed {
			t.Errorf("%s: removed %v, %v", tt.name, removed, err)
		}
		if _, err := os.Stat(tt.path); err != nil {
			t.Errorf("%s: the file is gone", tt.name)
		}
	}
	// A link of the right name to the cluster's own kubeconfig elsewhere:
	// rm removes files, never what a link points at.
	victim := filepath.Join(t.TempDir(), "kube_config_dev.yml")
	if err := os.WriteFile(victim, mine, 0o600); err != nil {
		t.Fatal(err)
	}
	linkDir := t.TempDir()
	if err := os.Symlink(victim, filepath.Join(linkDir, "kube_config_dev.yml")); err != nil {
		t.Fatal(err)
	}
	if removed, _ := RemoveKubeconfig(filepath.Join(linkDir, "kube_config_dev.yml"), "dev", ca); removed {
		t.Error("a link was followed")
	}
	own := write("kube_config_dev.yml", mine)
	if removed, err := RemoveKubeconfig(own, "dev", ca); err != nil || !removed {
		t.Errorf("the cluster's own kubeconfig: removed %v, %v", removed, err)
	}
	// Merged entries of another cluster of the same name stay.
	t.Setenv("KUBECONFIG", filepath.Join(dir, "config"))
	if _, err := MergeKubeconfig(theirs, MergeOptions{Switch: true}); err != nil {
		t.Fatal(err)
	}
	if err := UnmergeKubeconfig(filepath.Join(dir, "config"), "dev", ca); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(filepath.Join(dir, "config"))
	if err != nil || cfg.Contexts["rke-dev"] == nil {
		t.Errorf("another cluster's merged entries were removed: %v", err)
	}
}

// A context merged into a file before is written again in that file,
// whatever $KUBECONFIG says now, the file's current context kept.
func TestMergeIntoFile(t *testing.T) {
	b, _ := ensure(t, nil, cluster(t, model.Node{Name: "cp1", Roles: all}), nil)
	dir := t.TempDir()
	file := filepath.Join(dir, "merged")
	t.Setenv("KUBECONFIG", file)
	first, err := b.AdminKubeconfig("a", "https://old.example")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := MergeKubeconfig(first, MergeOptions{Switch: true}); err != nil {
		t.Fatal(err)
	}
	elsewhere := filepath.Join(dir, "elsewhere")
	t.Setenv("KUBECONFIG", elsewhere)
	again, err := b.AdminKubeconfig("a", "https://new.example")
	if err != nil {
		t.Fatal(err)
	}
	got, err := MergeKubeconfig(again, MergeOptions{Paths: FilePaths(file)})
	if err != nil || got != file {
		t.Fatalf("merge into %s: %q %v", file, got, err)
	}
	cfg, err := clientcmd.LoadFromFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Clusters["rke-a"].Server != "https://new.example" || cfg.CurrentContext != "rke-a" || len(cfg.Contexts) != 1 {
		t.Errorf("after merging again: server %q, current %q, %d contexts", cfg.Clusters["rke-a"].Server, cfg.CurrentContext, len(cfg.Contexts))
	}
	if _, err := os.Stat(elsewhere); !os.IsNotExist(err) {
		t.Errorf("$KUBECONFIG's file was written: %v", err)
	}
}
