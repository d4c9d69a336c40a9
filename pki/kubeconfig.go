package pki

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Kubeconfig builds a kubeconfig with clientcmd for a user of the bundle's
// certificate name, trusting the cluster CA, with one context named
// context. (The components' kubeconfigs inside nodes.)
func (b Bundle) Kubeconfig(context, server, user string) ([]byte, error) {
	return b.kubeconfig(context, server, user, user)
}

// ContextName names everything of a cluster's admin kubeconfig, its
// cluster, user and context alike: rke-NAME. Two clusters' kubeconfigs
// never share a name, so they merge (or sit together on KUBECONFIG)
// without one hiding the other.
func ContextName(cluster string) string { return "rke-" + cluster }

// AdminKubeconfig is a cluster's admin kubeconfig, its entries named by
// ContextName.
func (b Bundle) AdminKubeconfig(cluster, server string) ([]byte, error) {
	name := ContextName(cluster)
	return b.kubeconfig(name, server, Admin, name)
}

// AdminExpires is when the admin kubeconfig's certificate expires.
func (b Bundle) AdminExpires() (time.Time, error) {
	cert, err := b[Admin].Parsed()
	if err != nil {
		return time.Time{}, fmt.Errorf("admin certificate: %w", err)
	}
	return cert.NotAfter, nil
}

func (b Bundle) kubeconfig(context, server, cert, user string) ([]byte, error) {
	ca, ok := b[CA]
	if !ok {
		return nil, fmt.Errorf("kubeconfig %s: no cluster CA in the bundle", context)
	}
	pair, ok := b[cert]
	if !ok {
		return nil, fmt.Errorf("kubeconfig %s: no certificate %s in the bundle", context, cert)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[context] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca.CertPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: pair.CertPEM, ClientKeyData: pair.KeyPEM}
	cfg.Contexts[context] = &clientcmdapi.Context{Cluster: context, AuthInfo: user}
	cfg.CurrentContext = context
	return clientcmd.Write(*cfg)
}

// MergeOptions tune MergeKubeconfig.
type MergeOptions struct {
	// Switch makes the merged context the current one (kubectl's
	// default); kind and k3d do the same unless told not to.
	Switch bool
	// Paths is where kubectl's kubeconfig is: $KUBECONFIG or
	// ~/.kube/config when nil.
	Paths *clientcmd.PathOptions
}

// FilePaths are the PathOptions of one kubeconfig file, whatever
// $KUBECONFIG says: a file a context was merged into before.
func FilePaths(file string) *clientcmd.PathOptions {
	paths := clientcmd.NewDefaultPathOptions()
	paths.LoadingRules.ExplicitPath = file
	return paths
}

// MergeKubeconfig adds (or replaces) the cluster, user and context of a
// kubeconfig that has one of each (an admin kubeconfig), in the kubeconfig
// kubectl uses, with clientcmd, which keeps every other entry and the
// files' modes. It returns the file the entries went to, for
// UnmergeKubeconfig.
func MergeKubeconfig(data []byte, opts MergeOptions) (string, error) {
	add, err := clientcmd.Load(data)
	if err != nil {
		return "", err
	}
	if len(add.Clusters) != 1 || len(add.AuthInfos) != 1 || len(add.Contexts) != 1 {
		return "", errors.New("kubeconfig to merge: want one cluster, user and context")
	}
	paths := opts.Paths
	if paths == nil {
		paths = clientcmd.NewDefaultPathOptions()
	}
	cfg, err := paths.GetStartingConfig()
	if err != nil {
		return "", fmt.Errorf("reading your kubeconfig: %w", err)
	}
	// clientcmd writes entries that exist where they are, and new ones to
	// the first file.
	file := paths.GetDefaultFilename()
	for name := range add.Contexts {
		if c, ok := cfg.Contexts[name]; ok && c.LocationOfOrigin != "" {
			file = c.LocationOfOrigin
		}
	}
	maps.Copy(cfg.Clusters, add.Clusters)
	maps.Copy(cfg.AuthInfos, add.AuthInfos)
	maps.Copy(cfg.Contexts, add.Contexts)
	if opts.Switch {
		cfg.CurrentContext = add.CurrentContext
	}
	if err := clientcmd.ModifyConfig(paths, *cfg, true); err != nil {
		return "", fmt.Errorf("writing your kubeconfig: %w", err)
	}
	return file, nil
}

// KubeconfigFile is the name up gives a cluster's kubeconfig (RKE's).
func KubeconfigFile(cluster string) string { return "kube_config_" + cluster + ".yml" }

// RemoveKubeconfig removes a cluster's kubeconfig file, only when it is
// one up wrote for it: a regular file named KubeconfigFile(cluster) whose
// cluster entry trusts ca. The path comes from the cluster's state, which
// anyone who can write the engine's volumes can change: it never makes
// rm delete another file. It says whether it removed the file.
func RemoveKubeconfig(path, cluster string, ca []byte) (bool, error) {
	if filepath.Base(path) != KubeconfigFile(cluster) {
		return false, nil
	}
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil || !info.Mode().IsRegular() || info.Size() > 1<<20 {
		return false, err
	}
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil || !trusts(cfg, cluster, ca) {
		return false, nil
	}
	return true, os.Remove(path)
}

// trusts says whether a kubeconfig's entry for the cluster trusts its CA.
func trusts(cfg *clientcmdapi.Config, cluster string, ca []byte) bool {
	c := cfg.Clusters[ContextName(cluster)]
	return c != nil && len(ca) > 0 && bytes.Equal(c.CertificateAuthorityData, ca)
}

// UnmergeKubeconfig removes a cluster's entries (ContextName) from a
// kubeconfig file MergeKubeconfig wrote to, leaving everything else; a
// current context that was the cluster's is unset. Only entries that
// trust the cluster's CA are the cluster's: others of the same name are
// left. A file that is gone is not an error.
func UnmergeKubeconfig(path, cluster string, ca []byte) error {
	// A file that is gone, is not a regular file or not a kubeconfig, or
	// holds no entries of this cluster is not the cluster's to change.
	if info, err := os.Lstat(path); err != nil || !info.Mode().IsRegular() || info.Size() > 16<<20 {
		return nil
	}
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil || !trusts(cfg, cluster, ca) {
		return nil
	}
	name := ContextName(cluster)
	_, hadContext := cfg.Contexts[name]
	_, hadCluster := cfg.Clusters[name]
	_, hadUser := cfg.AuthInfos[name]
	if !hadContext && !hadCluster && !hadUser {
		return nil
	}
	delete(cfg.Contexts, name)
	delete(cfg.Clusters, name)
	delete(cfg.AuthInfos, name)
	if cfg.CurrentContext == name {
		cfg.CurrentContext = ""
	}
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
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
