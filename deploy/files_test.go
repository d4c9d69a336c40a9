package deploy

import (
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/docker-rke/docker-rke/model"
	"github.com/docker-rke/docker-rke/pki"
	"github.com/docker-rke/docker-rke/runtime"
)

func plan(t *testing.T) runtime.Cluster {
	t.Helper()
	def := &model.Definition{File: "t.go", Clusters: []model.Cluster{{Name: "c", Nodes: []model.Node{
		{Name: "cp", Roles: []model.Role{model.RoleControlPlane}},
		{Name: "etcd1", Roles: []model.Role{model.RoleEtcd}},
		{Name: "w", Roles: []model.Role{model.RoleWorker}},
	}}}}
	def.ApplyDefaults()
	if err := def.Validate().Err(); err != nil {
		t.Fatal(err)
	}
	p, err := runtime.Build(def)
	if err != nil {
		t.Fatal(err)
	}
	return p.Clusters[0]
}

func bundle(t *testing.T, c runtime.Cluster) pki.Bundle {
	t.Helper()
	reqs, err := pki.Requests(c, map[string]net.IP{})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := pki.Ensure(nil, reqs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestNodeFiles: each node gets what it uses and nothing more, keys 0600.
func TestNodeFiles(t *testing.T) {
	c := plan(t)
	b := bundle(t, c)
	enc := encryptionConfig("a2V5")
	paths := func(n runtime.Node) map[string]int64 {
		files, err := nodeFiles(b, c, n, "10.42.0.0/24", enc)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, f := range files {
			out[f.path] = f.mode
			if strings.HasSuffix(f.path, "-key.pem") && f.mode != 0o600 {
				t.Errorf("%s: key %s mode %o", n.Name, f.path, f.mode)
			}
		}
		return out
	}
	cp, etcd, w := paths(c.Nodes[0]), paths(c.Nodes[1]), paths(c.Nodes[2])
	// Every node: CA, its kubelet's serving pair, kubelet config, CNI
	// config, the kubelet's and kube-proxy's kubeconfigs.
	const common = 7
	if len(w) != common || w[runtime.CACert] == 0 || w[runtime.Key("kube-kubelet-w")] != 0o600 || w[runtime.Kubeconfig("kube-node")] != 0o600 || w[CNIConfig] == 0 || w[runtime.KubeletConfig] == 0 {
		t.Errorf("worker files: %v", w)
	}
	if _, ok := w[runtime.Key("kube-ca")]; ok {
		t.Error("a worker got the CA key")
	}
	// An etcd member: its pair and etcd's CA (never its key).
	if _, ok := etcd[runtime.Key("kube-etcd-etcd1")]; !ok || etcd[runtime.Cert(pki.EtcdCA)] == 0 || len(etcd) != common+3 {
		t.Errorf("etcd node files: %v", etcd)
	}
	for _, files := range []map[string]int64{cp, etcd, w} {
		if _, ok := files[runtime.Key(pki.EtcdCA)]; ok {
			t.Error("a node got etcd's CA key")
		}
	}
	if _, ok := w[runtime.Cert(pki.EtcdCA)]; ok {
		t.Error("a worker got etcd's CA: it has no business with etcd")
	}
	for _, want := range []string{runtime.Key("kube-ca"), runtime.Key("kube-apiserver"), runtime.PublicKey(pki.ServiceAccount), runtime.EncryptionConfig, runtime.Kubeconfig("kube-scheduler"), runtime.Cert(pki.EtcdCA), runtime.AdmissionConfig, runtime.AuditPolicy} {
		if _, ok := cp[want]; !ok {
			t.Errorf("controlplane node lacks %s", want)
		}
	}
	if _, ok := cp[runtime.Key("kube-etcd-etcd1")]; ok {
		t.Error("a controlplane node got an etcd member key")
	}
}

func TestFilesDigest(t *testing.T) {
	c := plan(t)
	b := bundle(t, c)
	f1, _ := nodeFiles(b, c, c.Nodes[0], "10.42.0.0/24", encryptionConfig("a2V5"))
	f2, _ := nodeFiles(b, c, c.Nodes[0], "10.42.0.0/24", encryptionConfig("a2V5"))
	if filesDigest(f1) != filesDigest(f2) {
		t.Fatal("the same files gave two digests")
	}
	f3, _ := nodeFiles(b, c, c.Nodes[0], "10.42.0.0/24", encryptionConfig("b3RoZXI="))
	if filesDigest(f1) == filesDigest(f3) {
		t.Error("a changed encryption key kept the digest")
	}
}

func TestConfigTemplates(t *testing.T) {
	enc := string(encryptionConfig("c2VjcmV0"))
	if !strings.Contains(enc, "secret: c2VjcmV0\n") || !strings.Contains(enc, "- identity: {}") || !strings.HasPrefix(enc, "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n") {
		t.Errorf("encryption config:\n%s", enc)
	}
	for _, level := range []string{"baseline", "restricted"} {
		var adm struct {
			Kind    string
			Plugins []struct {
				Name          string
				Configuration struct {
					APIVersion string
					Defaults   map[string]string
					Exemptions struct{ Namespaces []string }
				}
			}
		}
		if err := yaml.Unmarshal(admissionConfig(level), &adm); err != nil {
			t.Fatalf("admission config: %v", err)
		}
		if len(adm.Plugins) != 1 || adm.Plugins[0].Name != "PodSecurity" {
			t.Fatalf("admission config plugins: %+v", adm.Plugins)
		}
		cfg := adm.Plugins[0].Configuration
		if cfg.Defaults["enforce"] != level || cfg.Defaults["audit"] != level || cfg.Defaults["warn"] != level || !slices.Equal(cfg.Exemptions.Namespaces, []string{"kube-system"}) {
			t.Errorf("admission config for %s: %+v", level, cfg)
		}
	}
	var policy struct {
		APIVersion string
		OmitStages []string
		Rules      []struct{ Level string }
	}
	if err := yaml.Unmarshal([]byte(render(configTemplates, "audit-policy.yaml.tmpl", nil)), &policy); err != nil {
		t.Fatalf("audit policy: %v", err)
	}
	// Metadata only: a body (a Secret's data) never reaches the log.
	for _, r := range policy.Rules {
		if r.Level != "Metadata" {
			t.Errorf("audit policy rule at level %s, want Metadata only", r.Level)
		}
	}
	c := plan(t)
	c.ClusterDomain = "lab.local"
	if cf := corefile(c); !strings.Contains(cf, "kubernetes lab.local in-addr.arpa ip6.arpa {") || !strings.Contains(cf, "forward . /etc/resolv.conf") {
		t.Errorf("Corefile:\n%s", cf)
	}
}
