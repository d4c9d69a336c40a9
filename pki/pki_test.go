package pki

import (
	"crypto/x509"
	"net"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/docker-rke/docker-rke/model"
	"github.com/docker-rke/docker-rke/runtime"
)

var all = []model.Role{model.RoleControlPlane, model.RoleEtcd, model.RoleWorker}

func cluster(t *testing.T, nodes ...model.Node) runtime.Cluster {
	t.Helper()
	def := &model.Definition{File: "t.go", Clusters: []model.Cluster{{Name: "c", Nodes: nodes}}}
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

func ensure(t *testing.T, have Bundle, c runtime.Cluster, addrs map[string]net.IP) (Bundle, []string) {
	t.Helper()
	reqs, err := Requests(c, addrs)
	if err != nil {
		t.Fatal(err)
	}
	b, made, err := Ensure(have, reqs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return b, made
}

func parse(t *testing.T, b Bundle, name string) *x509.Certificate {
	t.Helper()
	c, ok := b[name]
	if !ok {
		t.Fatalf("no certificate %s", name)
	}
	cert, err := c.Parsed()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if _, err := c.Signer(); err != nil {
		t.Fatalf("%s key: %v", name, err)
	}
	return cert
}

func verify(t *testing.T, b Bundle, name, ca string, usage x509.ExtKeyUsage, host string) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(parse(t, b, ca))
	if _, err := parse(t, b, name).Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{usage}, DNSName: host}); err != nil {
		t.Errorf("%s does not verify against %s for %v %q: %v", name, ca, usage, host, err)
	}
}

func TestBundle(t *testing.T) {
	c := cluster(t,
		model.Node{Name: "cp1", Roles: all},
		model.Node{Name: "w1", Roles: []model.Role{model.RoleWorker}},
	)
	addrs := map[string]net.IP{"cp1": net.ParseIP("172.18.0.2").To4(), "w1": net.ParseIP("172.18.0.3").To4()}
	b, made := ensure(t, nil, c, addrs)
	if len(made) != len(b) {
		t.Errorf("a first Ensure must make everything: made %d of %d", len(made), len(b))
	}
	if !parse(t, b, CA).IsCA || !parse(t, b, FrontProxyCA).IsCA || !parse(t, b, EtcdCA).IsCA {
		t.Error("CAs are not CAs")
	}
	for _, host := range []string{"cp1", "kubernetes.default.svc.cluster.local", "localhost", "172.18.0.2", "10.43.0.1", "127.0.0.1"} {
		verify(t, b, "kube-apiserver", CA, x509.ExtKeyUsageServerAuth, host)
	}
	verify(t, b, "kube-apiserver", CA, x509.ExtKeyUsageClientAuth, "")
	// etcd trusts its own CA only: its members and the API server's
	// client certificate, nothing else the cluster CA signs.
	verify(t, b, "kube-etcd-cp1", EtcdCA, x509.ExtKeyUsageServerAuth, "cp1")
	verify(t, b, "kube-etcd-cp1", EtcdCA, x509.ExtKeyUsageClientAuth, "")
	verify(t, b, "kube-apiserver-etcd-client", EtcdCA, x509.ExtKeyUsageClientAuth, "")
	for _, name := range []string{"kube-node-w1", "kube-node-cp1", "kube-admin", "kube-super-admin", "kube-apiserver"} {
		if refused(b, name, EtcdCA) == nil {
			t.Errorf("%s is a valid client of etcd; only the API server's etcd client may be", name)
		}
	}
	verify(t, b, "kube-apiserver-proxy-client", FrontProxyCA, x509.ExtKeyUsageClientAuth, "")
	verify(t, b, "kube-kubelet-w1", CA, x509.ExtKeyUsageServerAuth, "172.18.0.3")
	if _, ok := b["kube-etcd-w1"]; ok {
		t.Error("a worker got an etcd certificate")
	}
	for name, want := range map[string]struct{ cn, o string }{
		"kube-admin":              {"kube-admin", AdminsGroup},
		"kube-super-admin":        {"kube-super-admin", "system:masters"},
		"kube-node-w1":            {"system:node:w1", "system:nodes"},
		"kube-controller-manager": {"system:kube-controller-manager", ""},
		"kube-scheduler":          {"system:kube-scheduler", ""},
		"kube-proxy":              {"system:kube-proxy", ""},
	} {
		cert := parse(t, b, name)
		if cert.Subject.CommonName != want.cn || (want.o != "" && !slices.Contains(cert.Subject.Organization, want.o)) {
			t.Errorf("%s: subject %v, want CN %s O %s", name, cert.Subject, want.cn, want.o)
		}
		verify(t, b, name, CA, x509.ExtKeyUsageClientAuth, "")
	}
	if cert := parse(t, b, "kube-apiserver"); slices.Contains(cert.DNSNames, "w1") {
		t.Error("the API server certificate names a worker")
	}
	admin := parse(t, b, Admin)
	if slices.Contains(admin.Subject.Organization, "system:masters") {
		t.Error("the admin kubeconfig's certificate is system:masters: it could never be revoked")
	}
	if life := admin.NotAfter.Sub(admin.NotBefore); life > AdminValidity+backdate {
		t.Errorf("the admin certificate lasts %s, want at most %s", life, AdminValidity)
	}
}

// refused says why a certificate does not verify against a CA for client
// use (nil: it does).
func refused(b Bundle, name, ca string) error {
	caCert, err := b[ca].Parsed()
	if err != nil {
		return err
	}
	cert, err := b[name].Parsed()
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	_, err = cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return err
}

// TestPreviousPKIMigrates: a bundle of the release before etcd had its own
// CA (etcd's members and client signed by the cluster CA, the admin in
// system:masters for five years) gets the etcd CA, etcd certificates
// signed by it and the new admin identities; nothing else changes, so
// only etcd and the API servers restart.
func TestPreviousPKIMigrates(t *testing.T) {
	c := cluster(t, model.Node{Name: "cp1", Roles: all}, model.Node{Name: "w1", Roles: []model.Role{model.RoleWorker}})
	reqs, err := Requests(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	var previous []Request
	for _, r := range reqs {
		switch {
		case r.Name == EtcdCA || r.Name == SuperAdmin:
			continue
		case r.Issuer == EtcdCA:
			r.Issuer = CA
		case r.Name == Admin:
			r.Organization, r.Validity = []string{"system:masters"}, 0
		}
		previous = append(previous, r)
	}
	old, _, err := Ensure(nil, previous, time.Now().Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	b, made, err := Ensure(old, reqs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(made)
	if want := []string{"kube-admin", "kube-apiserver-etcd-client", "kube-etcd-ca", "kube-etcd-cp1", "kube-super-admin"}; !slices.Equal(made, want) {
		t.Errorf("migrating made %v, want %v", made, want)
	}
	verify(t, b, "kube-etcd-cp1", EtcdCA, x509.ExtKeyUsageServerAuth, "cp1")
	if refused(b, "kube-node-w1", EtcdCA) == nil {
		t.Error("after the migration a kubelet's certificate is still a client of etcd")
	}
}

// TestEnsureRegeneratesOnlyWhatChanged: the same inputs keep every byte;
// a new controlplane node renews the API server certificate and adds the
// new node's own, and nothing else changes.
func TestEnsureRegeneratesOnlyWhatChanged(t *testing.T) {
	one := cluster(t, model.Node{Name: "cp1", Roles: all})
	addrs := map[string]net.IP{"cp1": net.ParseIP("172.18.0.2").To4()}
	b1, _ := ensure(t, nil, one, addrs)
	b2, made := ensure(t, b1, one, addrs)
	if len(made) != 0 || !b1.Equal(b2) {
		t.Fatalf("unchanged inputs regenerated %v", made)
	}

	two := cluster(t, model.Node{Name: "cp1", Roles: all}, model.Node{Name: "cp2", Roles: []model.Role{model.RoleControlPlane}})
	addrs["cp2"] = net.ParseIP("172.18.0.3").To4()
	b3, made := ensure(t, b2, two, addrs)
	slices.Sort(made)
	if want := []string{"kube-apiserver", "kube-kubelet-cp2", "kube-node-cp2"}; !slices.Equal(made, want) {
		t.Errorf("adding a controlplane node regenerated %v, want %v", made, want)
	}
	verify(t, b3, "kube-apiserver", CA, x509.ExtKeyUsageServerAuth, "cp2")

	// A node that came back with another address: its certificates follow.
	addrs["cp1"] = net.ParseIP("172.18.0.9").To4()
	_, made = ensure(t, b3, two, addrs)
	slices.Sort(made)
	if want := []string{"kube-apiserver", "kube-etcd-cp1", "kube-kubelet-cp1"}; !slices.Equal(made, want) {
		t.Errorf("an address change regenerated %v, want %v", made, want)
	}
}

func TestNewCARenewsWhatItSigns(t *testing.T) {
	c := cluster(t, model.Node{Name: "cp1", Roles: all})
	b1, _ := ensure(t, nil, c, nil)
	broken := Bundle{}
	for k, v := range b1 {
		broken[k] = v
	}
	delete(broken, CA)
	b2, made := ensure(t, broken, c, nil)
	if !slices.Contains(made, "kube-admin") || slices.Contains(made, "kube-apiserver-proxy-client") {
		t.Errorf("a new cluster CA must renew what it signs and only that: %v", made)
	}
	verify(t, b2, "kube-admin", CA, x509.ExtKeyUsageClientAuth, "")
}

func TestExpiringCertificateIsRenewed(t *testing.T) {
	c := cluster(t, model.Node{Name: "cp1", Roles: all})
	reqs, err := Requests(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	old, _, err := Ensure(nil, reqs, time.Now().Add(-(leafValidity - 10*24*time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	_, made, err := Ensure(old, reqs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(made, "kube-admin") || slices.Contains(made, CA) {
		t.Errorf("leaves 10 days from expiry must be renewed, the CA kept: %v", made)
	}
}

// cert ls shows every certificate of a bundle, by name, with what tells
// them apart: subject, issuer, names, expiry.
func TestDescribe(t *testing.T) {
	b, _ := ensure(t, nil, cluster(t, model.Node{Name: "cp1", Roles: all}), map[string]net.IP{"cp1": net.IPv4(172, 30, 0, 2)})
	infos, err := b.Describe()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]CertInfo{}
	for _, i := range infos {
		byName[i.Name] = i
	}
	if !sort.SliceIsSorted(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name }) {
		t.Error("not sorted by name")
	}
	ca, api := byName[CA], byName["kube-apiserver"]
	if !ca.IsCA || api.IsCA || api.Issuer != ca.Subject || api.NotAfter.IsZero() || api.Serial == "" {
		t.Errorf("ca %+v\napi %+v", ca, api)
	}
	if !slices.Contains(api.SANs, "kubernetes.default") {
		t.Errorf("API server SANs %v", api.SANs)
	}
	if a := byName[Admin]; a.Subject != "CN=kube-admin,O=docker-rke:admins" {
		t.Errorf("admin subject %q", a.Subject)
	}
}

// What cert rotate renews: a service's own certificates, every leaf by
// default, everything but the service-account key with --ca.
func TestToRotate(t *testing.T) {
	b, _ := ensure(t, nil, cluster(t, model.Node{Name: "n1", Roles: all}), map[string]net.IP{"n1": net.IPv4(172, 30, 0, 2)})
	names := func(services []string, ca bool) []string {
		t.Helper()
		got, err := b.ToRotate(services, ca)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := names([]string{"etcd"}, false); !slices.Equal(got, []string{"kube-etcd-n1"}) {
		t.Errorf("etcd: %v", got)
	}
	if got := names([]string{"kubelet", "kube-proxy"}, false); !slices.Equal(got, []string{"kube-kubelet-n1", "kube-node-n1", "kube-proxy"}) {
		t.Errorf("kubelet, kube-proxy: %v", got)
	}
	all := names(nil, false)
	if slices.Contains(all, CA) || slices.Contains(all, EtcdCA) || slices.Contains(all, ServiceAccount) || !slices.Contains(all, Admin) || !slices.Contains(all, "kube-apiserver") {
		t.Errorf("all leaves: %v", all)
	}
	withCA := names(nil, true)
	if len(withCA) != len(b)-1 || slices.Contains(withCA, ServiceAccount) {
		t.Errorf("--ca: %v of %d", withCA, len(b))
	}
	if _, err := b.ToRotate([]string{"kube-dns"}, false); err == nil || !strings.Contains(err.Error(), "want one of etcd") {
		t.Errorf("unknown service: %v", err)
	}
}
