package pki

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Kubeconfig builds a kubeconfig with clientcmd for a user of the bundle's
// certificate name, trusting the cluster CA, with one context named
// context.
func (b Bundle) Kubeconfig(context, server, user string) ([]byte, error) {
	ca, ok := b[CA]
	if !ok {
		return nil, fmt.Errorf("kubeconfig %s: no cluster CA in the bundle", context)
	}
	cert, ok := b[user]
	if !ok {
		return nil, fmt.Errorf("kubeconfig %s: no certificate %s in the bundle", context, user)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[context] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca.CertPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: cert.CertPEM, ClientKeyData: cert.KeyPEM}
	cfg.Contexts[context] = &clientcmdapi.Context{Cluster: context, AuthInfo: user}
	cfg.CurrentContext = context
	return clientcmd.Write(*cfg)
}

// WriteKubeconfig writes a kubeconfig readable by its owner only (it holds
// a private key), atomically: a reader never sees half a file.
func WriteKubeconfig(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
