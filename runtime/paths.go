package runtime

// Paths inside a node. They follow RKE's layout so that people who know RKE
// find things where they expect them; the pki package writes the files.
const (
	SSLDir           = "/etc/kubernetes/ssl"
	CACert           = SSLDir + "/kube-ca.pem"
	EncryptionConfig = SSLDir + "/encryption.yaml"
	KubeletConfig    = SSLDir + "/kubelet-config.yaml"
	EtcdDataDir      = "/var/lib/rancher/etcd"
)

// Cert is the certificate of a component, e.g. kube-apiserver.
func Cert(name string) string { return SSLDir + "/" + name + ".pem" }

// Key is the private key of a component.
func Key(name string) string { return SSLDir + "/" + name + "-key.pem" }

// PublicKey is the public half of a component's key (the service-account
// token verifier reads public keys only).
func PublicKey(name string) string { return SSLDir + "/" + name + "-pub.pem" }

// Kubeconfig is the kubeconfig a component uses to reach the API server.
func Kubeconfig(name string) string { return SSLDir + "/kubecfg-" + name + ".yaml" }

// EtcdCert is the certificate and key of one etcd member.
func EtcdCert(node string) (cert, key string) {
	return Cert("kube-etcd-" + node), Key("kube-etcd-" + node)
}
