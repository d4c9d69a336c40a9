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
