package deploy

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"

	"github.com/docker-rke/docker-rke/internal/digest"
	"github.com/docker-rke/docker-rke/internal/tarball"
	"github.com/docker-rke/docker-rke/model"
	"github.com/docker-rke/docker-rke/pki"
	"github.com/docker-rke/docker-rke/runtime"
)

// file is one file for a node.
type file struct {
	path string // absolute
	data []byte
	mode int64
}

// nodeFiles is what one node needs of the cluster's PKI and settings: to
// every node the CA, its kubelet's certificates, configuration and
// kubeconfig, kube-proxy's kubeconfig and its pod network; its member
// certificate to an etcd node; the API server's, the signing keys, the
// encryption config and the components' kubeconfigs to a controlplane
// node. No node gets what it does not use.
func nodeFiles(b pki.Bundle, c runtime.Cluster, n runtime.Node, podCIDR string, encryptionConfig []byte) ([]file, error) {
	var out []file
	add := func(name string, withKey bool) error {
		c, ok := b[name]
		if !ok {
			return fmt.Errorf("no certificate %s", name)
		}
		out = append(out, file{runtime.Cert(name), c.CertPEM, 0o644})
		if withKey {
			out = append(out, file{runtime.Key(name), c.KeyPEM, 0o600})
		}
		return nil
	}
	if err := add(pki.CA, n.HasRole(model.RoleControlPlane)); err != nil {
		return nil, err
	}
	if err := add(runtime.CertKubelet(n.Name), true); err != nil {
		return nil, err
	}
	out = append(out, file{runtime.KubeletConfig, kubeletConfig(c, n.Name), 0o644}, file{CNIConfig, cniConfig(podCIDR), 0o644})
	// kubelet and kube-proxy reach the API server on the node's loopback:
	// the local API server, or the node's API proxy.
	for path, user := range map[string]string{runtime.Kubeconfig("kube-node"): runtime.CertNode(n.Name), runtime.Kubeconfig(runtime.CertKubeProxy): runtime.CertKubeProxy} {
		kc, err := b.Kubeconfig("local", runtime.LocalAPIServer, user)
		if err != nil {
			return nil, err
		}
		out = append(out, file{path, kc, 0o600})
	}
	if n.HasRole(model.RoleEtcd) || n.HasRole(model.RoleControlPlane) {
		// etcd's members and the API server trust etcd's own CA.
		if err := add(pki.EtcdCA, false); err != nil {
			return nil, err
		}
	}
	if n.HasRole(model.RoleEtcd) {
		if err := add(runtime.CertEtcd(n.Name), true); err != nil {
			return nil, err
		}
	}
	if n.HasRole(model.RoleControlPlane) {
		for _, name := range []string{runtime.CertAPIServer, runtime.CertAPIServerEtcdClient, runtime.CertAPIServerProxyClient, pki.ServiceAccount} {
			if err := add(name, true); err != nil {
				return nil, err
			}
		}
		if err := add(pki.FrontProxyCA, false); err != nil {
			return nil, err
		}
		pub, err := b[pki.ServiceAccount].PublicKeyPEM()
		if err != nil {
			return nil, fmt.Errorf("service-account key: %w", err)
		}
		out = append(out, file{runtime.PublicKey(pki.ServiceAccount), pub, 0o644})
		out = append(out,
			file{runtime.EncryptionConfig, encryptionConfig, 0o600},
			file{runtime.AdmissionConfig, admissionConfig(c.PodSecurity), 0o644},
			file{runtime.AuditPolicy, []byte(render(configTemplates, "audit-policy.yaml.tmpl", nil)), 0o644},
		)
		for _, user := range []string{runtime.CertControllerManager, runtime.CertScheduler} {
			kc, err := b.Kubeconfig("local", fmt.Sprintf("https://127.0.0.1:%d", runtime.APIServerPort), user)
			if err != nil {
				return nil, err
			}
			out = append(out, file{runtime.Kubeconfig(user), kc, 0o600})
		}
	}
	return out, nil
}

// filesDigest hashes a node's files by content (not by time), so that
// components restart exactly when what they read changed.
func filesDigest(files []file) string {
	sorted := append([]file(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].path < sorted[j].path })
	h := digest.New()
	for _, f := range sorted {
		fmt.Fprintf(h, "%s\x00%d\x00%d\x00", f.path, f.mode, len(f.data))
		h.Write(f.data)
	}
	return digest.Short(h, digest.Label)
}

// tarFiles packs files to unpack at "/".
func tarFiles(files []file) ([]byte, error) {
	entries := make([]tarball.Entry, len(files))
	for i, f := range files {
		entries[i] = tarball.File(strings.TrimPrefix(f.path, "/"), f.mode, f.data)
	}
	return tarball.Bytes(tarball.WithParents(entries)...)
}

// admissionConfig sets the Pod Security level every namespace gets
// unless its labels choose another.
func admissionConfig(level string) []byte {
	return []byte(render(configTemplates, "admission.yaml.tmpl", struct{ Level string }{level}))
}

// newEncryptionKey makes the key that encrypts Secrets at rest.
func newEncryptionKey() (string, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(key), nil
}

// encryptionConfig encrypts Secrets with secretbox (beyond RKE's
// defaults), still reading what was stored in the clear.
func encryptionConfig(key string) []byte {
	return []byte(render(configTemplates, "encryption.yaml.tmpl", struct{ Key string }{key}))
}
