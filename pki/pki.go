// Package pki makes every certificate a cluster needs, with crypto/x509:
// the cluster CA and the front-proxy CA, etcd's member certificates, the
// API server's, the clients of every component with the names RBAC
// expects, per-node kubelet client and serving certificates, and the
// service-account key pair. Certificates live in a Bundle keyed by name,
// as RKE keeps them, and Ensure regenerates only those whose inputs
// changed (say, the API server's SANs when a controlplane node is added).
package pki

import (
	"github.com/docker-rke/docker-rke/runtime"

	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"sort"
	"strings"
	"time"
)

// The bundle's most used names (every name is in runtime, next to the
// files they become).
const (
	CA             = runtime.CertCA
	EtcdCA         = runtime.CertEtcdCA
	FrontProxyCA   = runtime.CertFrontProxyCA
	ServiceAccount = runtime.CertServiceAccount
	Admin          = runtime.CertAdmin
	SuperAdmin     = runtime.CertSuperAdmin
)

// AdminsGroup is the group of the admin kubeconfig's identity. RBAC makes
// it cluster-admin through a ClusterRoleBinding of the same name, which
// up keeps: deleting the binding takes every admin certificate's rights
// away, as system:masters never could.
const AdminsGroup = "docker-rke:admins"

// Validity of what Ensure makes, and how early it renews.
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 5 * 365 * 24 * time.Hour
	renewBefore  = 30 * 24 * time.Hour
	// AdminValidity is the life of the admin kubeconfig's certificate:
	// every up or start in its last 30 days renews it.
	AdminValidity = 90 * 24 * time.Hour
	// backdate is how far before now a certificate starts, for clocks
	// that disagree a little.
	backdate = time.Hour
)

// Kind says what a certificate is for.
type Kind int

// Kinds of certificates.
const (
	KindCA Kind = iota
	KindClient
	KindServer
	// KindPeer is both server and client: etcd members, and the API
	// server, which is also a client of kubelets.
	KindPeer
	// KindKeyPair is a key with a self-signed certificate, only for its
	// key: the service-account token signer.
	KindKeyPair
)

// Request describes one certificate.
type Request struct {
	Name         string
	Kind         Kind
	CommonName   string
	Organization []string
	DNSNames     []string
	IPs          []net.IP
	// Issuer is the CA that signs it; empty for CAs and key pairs.
	Issuer string
	// Validity is how long it lasts; zero for the default of its kind.
	Validity time.Duration
}

func (r Request) validity() time.Duration {
	switch {
	case r.Validity > 0:
		return r.Validity
	case r.Kind == KindCA:
		return caValidity
	}
	return leafValidity
}

// Cert is a certificate and its private key, PEM-encoded.
type Cert struct {
	CertPEM []byte `json:"cert"`
	KeyPEM  []byte `json:"key"`
}

// Bundle holds a cluster's certificates by name.
type Bundle map[string]Cert

// Parsed returns the certificate.
func (c Cert) Parsed() (*x509.Certificate, error) {
	block, _ := pem.Decode(c.CertPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

// PublicKeyPEM returns the public key in PKIX PEM form.
func (c Cert) PublicKeyPEM() ([]byte, error) {
	s, err := c.Signer()
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(s.Public())
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// Signer returns the private key.
func (c Cert) Signer() (crypto.Signer, error) {
	block, _ := pem.Decode(c.KeyPEM)
	if block == nil {
		return nil, errors.New("no PEM key")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("key cannot sign")
	}
	return s, nil
}

// Ensure returns a bundle with a certificate for every request: the one in
// have when it still matches its request, is signed by the current issuer
// and is not about to expire; a new one otherwise. It also returns the
// names it (re)generated. CAs come first, so a new CA renews what it signs.
// Requests must list issuers before what they sign.
func Ensure(have Bundle, reqs []Request, now time.Time) (Bundle, []string, error) {
	out := Bundle{}
	var made []string
	for _, r := range reqs {
		if old, ok := have[r.Name]; ok && matches(old, r, out, now) {
			out[r.Name] = old
			continue
		}
		c, err := generate(r, out, now)
		if err != nil {
			return nil, nil, fmt.Errorf("certificate %s: %w", r.Name, err)
		}
		out[r.Name] = c
		made = append(made, r.Name)
	}
	return out, made, nil
}

// matches reports whether an existing certificate still serves a request.
func matches(c Cert, r Request, issued Bundle, now time.Time) bool {
	cert, err := c.Parsed()
	if err != nil {
		return false
	}
	if _, err := c.Signer(); err != nil {
		return false
	}
	if now.Add(renewBefore).After(cert.NotAfter) || now.Before(cert.NotBefore) {
		return false
	}
	// A certificate made to last longer than its request now allows (the
	// admin's, once five years) is made again.
	if cert.NotAfter.Sub(cert.NotBefore) > r.validity()+backdate {
		return false
	}
	if cert.Subject.CommonName != r.CommonName || !sameStrings(cert.Subject.Organization, r.Organization) {
		return false
	}
	if !sameStrings(cert.DNSNames, r.DNSNames) || !sameStrings(ipStrings(cert.IPAddresses), ipStrings(r.IPs)) {
		return false
	}
	if cert.IsCA != (r.Kind == KindCA) {
		return false
	}
	if r.Issuer == "" {
		return true
	}
	ca, ok := issued[r.Issuer]
	if !ok {
		return false
	}
	caCert, err := ca.Parsed()
	if err != nil {
		return false
	}
	return cert.CheckSignatureFrom(caCert) == nil
}

func generate(r Request, issued Bundle, now time.Time) (Cert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Cert{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return Cert{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: r.CommonName, Organization: r.Organization},
		DNSNames:     r.DNSNames,
		IPAddresses:  r.IPs,
		NotBefore:    now.Add(-backdate).UTC(),
		NotAfter:     now.Add(r.validity()).UTC(),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	switch r.Kind {
	case KindCA:
		tmpl.IsCA = true
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign
	case KindClient:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case KindServer:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case KindPeer:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	case KindKeyPair:
	}
	parent, signer := tmpl, crypto.Signer(key)
	if r.Issuer != "" {
		ca, ok := issued[r.Issuer]
		if !ok {
			return Cert{}, fmt.Errorf("issuer %s is not in the bundle (list it first)", r.Issuer)
		}
		if parent, err = ca.Parsed(); err != nil {
			return Cert{}, err
		}
		if signer, err = ca.Signer(); err != nil {
			return Cert{}, err
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		return Cert{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Cert{}, err
	}
	return Cert{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

func sameStrings(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}

// Equal reports whether two bundles hold the same certificates.
func (b Bundle) Equal(o Bundle) bool {
	if len(b) != len(o) {
		return false
	}
	for k, v := range b {
		w, ok := o[k]
		if !ok || !bytes.Equal(v.CertPEM, w.CertPEM) || !bytes.Equal(v.KeyPEM, w.KeyPEM) {
			return false
		}
	}
	return true
}

// CertInfo is what `docker rke cert ls` shows of one certificate.
type CertInfo struct {
	Name     string
	Subject  string // CN, and O when there is one
	Issuer   string
	SANs     []string
	Serial   string
	NotAfter time.Time
	IsCA     bool
}

// Describe lists the bundle's certificates by name; a key without a
// certificate (the service-account signing key) is left out.
func (b Bundle) Describe() ([]CertInfo, error) {
	names := make([]string, 0, len(b))
	for name, c := range b {
		if len(c.CertPEM) > 0 {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	out := make([]CertInfo, 0, len(names))
	for _, name := range names {
		cert, err := b[name].Parsed()
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", name, err)
		}
		subject := "CN=" + cert.Subject.CommonName
		if len(cert.Subject.Organization) > 0 {
			subject += ",O=" + strings.Join(cert.Subject.Organization, "+")
		}
		sans := append([]string(nil), cert.DNSNames...)
		for _, ip := range cert.IPAddresses {
			sans = append(sans, ip.String())
		}
		out = append(out, CertInfo{
			Name: name, Subject: subject, Issuer: "CN=" + cert.Issuer.CommonName, SANs: sans,
			Serial: cert.SerialNumber.Text(16), NotAfter: cert.NotAfter, IsCA: cert.IsCA,
		})
	}
	return out, nil
}

// RotatableServices are the services `cert rotate --service` takes, RKE's
// names.
func RotatableServices() []string {
	return []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"}
}

// ToRotate names the certificates a rotation of services (none: every
// one) renews: the leaf certificates they present, the admin's with the
// API server's. With ca, the certificate authorities too, and so every
// certificate (each one's issuer changes). The service-account key stays:
// renewing it would void every token the cluster issued.
func (b Bundle) ToRotate(services []string, ca bool) ([]string, error) {
	var out []string
	for name := range b {
		if name == ServiceAccount {
			continue
		}
		kind := certService(name)
		switch {
		case kind == "ca":
			if ca {
				out = append(out, name)
			}
		case ca || len(services) == 0 || slices.Contains(services, kind):
			out = append(out, name)
		}
	}
	for _, s := range services {
		if !slices.Contains(RotatableServices(), s) {
			return nil, fmt.Errorf("service %q: want one of %s", s, strings.Join(RotatableServices(), ", "))
		}
	}
	sort.Strings(out)
	return out, nil
}

// certService is the service a certificate belongs to ("ca" for the
// authorities).
func certService(name string) string {
	switch {
	case name == CA || name == EtcdCA || name == FrontProxyCA:
		return "ca"
	case strings.HasPrefix(name, "kube-etcd-"):
		return "etcd"
	case strings.HasPrefix(name, "kube-node-"), strings.HasPrefix(name, "kube-kubelet-"):
		return "kubelet"
	case name == runtime.CertControllerManager:
		return "kube-controller-manager"
	case name == runtime.CertScheduler:
		return "kube-scheduler"
	case name == runtime.CertKubeProxy:
		return "kube-proxy"
	}
	// The API server's own, its clients of etcd and the front proxy, and
	// the admins'.
	return "kube-apiserver"
}
