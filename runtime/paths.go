package runtime

// Paths inside a node. They follow RKE's layout so that people who know RKE
// find things where they expect them; the pki package writes the files.
const (
	SSLDir           = "/etc/kubernetes/ssl"
	CACert           = SSLDir + "/" + CertCA + ".pem"
	EncryptionConfig = SSLDir + "/encryption.yaml"
	// AdmissionConfig configures the API server's admission plugins: the
	// Pod Security level of the cluster.
	AdmissionConfig = SSLDir + "/admission.yaml"
	AuditPolicy     = SSLDir + "/audit-policy.yaml"
	// AuditLogDir keeps the API server's audit log (RKE's place for it),
	// on the node's /var volume: it outlives the node's container.
	AuditLogDir   = "/var/log/kube-audit"
	AuditLog      = AuditLogDir + "/audit-log.json"
	KubeletConfig = SSLDir + "/kubelet-config.yaml"
	EtcdDataDir   = "/var/lib/rancher/etcd"
)

// Certificate names: the keys of a cluster's certificate bundle (package
// pki makes them) and the names of their files in a node (Cert, Key).
// RKE's names, so that people who know RKE find the files they expect.
const (
	CertCA = "kube-ca"
	// CertEtcdCA signs etcd's members and its only client, the API
	// server: a certificate of the cluster CA (a kubelet's, any one
	// approved through a CSR) is no key to etcd.
	CertEtcdCA         = "kube-etcd-ca"
	CertFrontProxyCA   = "kube-apiserver-requestheader-ca"
	CertServiceAccount = "kube-service-account-token"
	// CertAPIServer serves the API and is its client of kubelets.
	CertAPIServer            = "kube-apiserver"
	CertAPIServerEtcdClient  = "kube-apiserver-etcd-client"
	CertAPIServerProxyClient = "kube-apiserver-proxy-client"
	CertControllerManager    = "kube-controller-manager"
	CertScheduler            = "kube-scheduler"
	CertKubeProxy            = "kube-proxy"
	// CertAdmin is the admin kubeconfig's identity (group
	// docker-rke:admins); CertSuperAdmin (system:masters) is up's own,
	// never written to a file.
	CertAdmin      = "kube-admin"
	CertSuperAdmin = "kube-super-admin"
)

// CertEtcd is an etcd member's certificate, for peers and clients.
func CertEtcd(node string) string { return "kube-etcd-" + node }

// CertNode is a kubelet's client certificate (system:node:<node>).
func CertNode(node string) string { return "kube-node-" + node }

// CertKubelet is a kubelet's serving certificate.
func CertKubelet(node string) string { return "kube-kubelet-" + node }

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
	return Cert(CertEtcd(node)), Key(CertEtcd(node))
}
