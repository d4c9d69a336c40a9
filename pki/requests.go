package pki

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/docker-rke/docker-rke/model"
	"github.com/docker-rke/docker-rke/runtime"
)

// Requests lists every certificate a planned cluster needs, issuers first.
// addresses are the nodes' IPs on their network (known once the nodes
// exist); they go into the SANs of the certificates clients reach by
// address: the API server's, the etcd members' and the kubelets' serving
// certificates.
func Requests(c runtime.Cluster, addresses map[string]net.IP) ([]Request, error) {
	svc, err := netip.ParsePrefix(c.ServiceCIDR)
	if err != nil {
		return nil, fmt.Errorf("service CIDR: %w", err)
	}
	// The kubernetes Service gets the first address of the range.
	apiServiceIP := net.IP(svc.Masked().Addr().Next().AsSlice())

	reqs := []Request{
		{Name: CA, Kind: KindCA, CommonName: CA},
		{Name: EtcdCA, Kind: KindCA, CommonName: EtcdCA},
		{Name: FrontProxyCA, Kind: KindCA, CommonName: FrontProxyCA},
		{Name: ServiceAccount, Kind: KindKeyPair, CommonName: ServiceAccount},
	}

	apiDNS := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + c.ClusterDomain}
	apiIPs := []net.IP{net.IPv4(127, 0, 0, 1).To4(), apiServiceIP}
	for _, n := range c.Nodes {
		if n.HasRole(model.RoleControlPlane) {
			apiDNS = append(apiDNS, n.Name)
			if ip := addresses[n.Name]; ip != nil {
				apiIPs = append(apiIPs, ip)
			}
		}
	}
	reqs = append(reqs,
		// The API server is also the client of kubelets (RKE's layout).
		Request{Name: runtime.CertAPIServer, Kind: KindPeer, CommonName: runtime.CertAPIServer, DNSNames: apiDNS, IPs: apiIPs, Issuer: CA},
		// etcd's only client, signed by etcd's own CA.
		Request{Name: runtime.CertAPIServerEtcdClient, Kind: KindClient, CommonName: runtime.CertAPIServerEtcdClient, Issuer: EtcdCA},
		Request{Name: runtime.CertAPIServerProxyClient, Kind: KindClient, CommonName: runtime.CertAPIServerProxyClient, Issuer: FrontProxyCA},
		// RBAC knows these users and groups.
		Request{Name: runtime.CertControllerManager, Kind: KindClient, CommonName: "system:kube-controller-manager", Issuer: CA},
		Request{Name: runtime.CertScheduler, Kind: KindClient, CommonName: "system:kube-scheduler", Issuer: CA},
		Request{Name: runtime.CertKubeProxy, Kind: KindClient, CommonName: "system:kube-proxy", Issuer: CA},
		Request{Name: Admin, Kind: KindClient, CommonName: Admin, Organization: []string{AdminsGroup}, Issuer: CA, Validity: AdminValidity},
		Request{Name: SuperAdmin, Kind: KindClient, CommonName: SuperAdmin, Organization: []string{"system:masters"}, Issuer: CA},
	)
	for _, n := range c.Nodes {
		var ips []net.IP
		if ip := addresses[n.Name]; ip != nil {
			ips = []net.IP{ip}
		}
		if n.HasRole(model.RoleEtcd) {
			reqs = append(reqs, Request{
				Name: runtime.CertEtcd(n.Name), Kind: KindPeer, CommonName: runtime.CertEtcd(n.Name),
				DNSNames: []string{n.Name, "localhost"}, IPs: append([]net.IP{net.IPv4(127, 0, 0, 1).To4()}, ips...), Issuer: EtcdCA,
			})
		}
		// The Node authorizer knows a kubelet as system:node:<name>.
		reqs = append(reqs,
			Request{Name: runtime.CertNode(n.Name), Kind: KindClient, CommonName: "system:node:" + n.Name, Organization: []string{"system:nodes"}, Issuer: CA},
			Request{Name: runtime.CertKubelet(n.Name), Kind: KindServer, CommonName: runtime.CertKubelet(n.Name), DNSNames: []string{n.Name}, IPs: ips, Issuer: CA},
		)
	}
	return reqs, nil
}
