package model

import (
	"strings"
	"testing"
)

func node(name string, roles ...Role) Node { return Node{Name: name, Roles: roles} }

var all = []Role{RoleControlPlane, RoleEtcd, RoleWorker}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		def     Definition
		errs    []string // substrings, one per expected error
		warns   []string
		wantRef *Ref // where the first error points
	}{
		{name: "valid", def: Definition{Clusters: []Cluster{{Name: "c", Nodes: []Node{node("n", all...)}}}}},
		{name: "no clusters", def: Definition{}, errs: []string{"defines no cluster"}},
		{name: "no etcd", def: Definition{Clusters: []Cluster{{Name: "c", Nodes: []Node{node("n", RoleControlPlane, RoleWorker)}}}},
			errs: []string{"no node has the etcd role"}, wantRef: &Ref{Cluster: 0, Node: -1, Field: "nodes"}},
		{name: "no controlplane and no worker", def: Definition{Clusters: []Cluster{{Name: "c", Nodes: []Node{node("n", RoleEtcd)}}}},
			errs: []string{"controlplane role", "worker role"}},
		{name: "roles spread over nodes count", def: Definition{Clusters: []Cluster{{Name: "c", Nodes: []Node{node("a", RoleEtcd), node("b", RoleControlPlane), node("c", RoleWorker)}}}}},
		{name: "unknown role", def: Definition{Clusters: []Cluster{{Name: "c", Nodes: []Node{node("n", append(all, "master")...)}}}},
			errs: []string{`unknown role "master"`}, wantRef: &Ref{Cluster: 0, Node: 0, Field: "roles"}},
		{name: "no roles", def: Definition{Clusters: []Cluster{{Name: "c", Nodes: []Node{node("n", all...), node("m")}}}},
			errs: []string{"node has no roles"}, wantRef: &Ref{Cluster: 0, Node: 1, Field: "roles"}},
		{name: "duplicate node", def: Definition{Clusters: []Cluster{{Name: "c", Nodes: []Node{node("n", all...), node("n", RoleWorker)}}}},
			errs: []string{`duplicate node name "n"`}, wantRef: &Ref{Cluster: 0, Node: 1, Field: "name"}},
		{name: "duplicate cluster", def: Definition{Clusters: []Cluster{{Name: "c", Nodes: []Node{node("n", all...)}}, {Name: "c", Nodes: []Node{node("m", all...)}}}},
			errs: []string{`duplicate cluster name "c"`}},
		{name: "container name clash across clusters", def: Definition{Clusters: []Cluster{{Name: "a-b", Nodes: []Node{node("c", all...)}}, {Name: "a", Nodes: []Node{node("b-c", all...)}}}},
			errs: []string{"container name rke-dind-a-b-c"}},
		{name: "cluster name not DNS", def: Definition{Clusters: []Cluster{{Name: "My_Cluster", Nodes: []Node{node("n", all...)}}}},
			errs: []string{"My_Cluster"}},
		{name: "cluster name too long", def: Definition{Clusters: []Cluster{{Name: strings.Repeat("a", 41), Nodes: []Node{node("n", all...)}}}},
			errs: []string{"the limit is 40"}},
		{name: "node name not DNS", def: Definition{Clusters: []Cluster{{Name: "c", Nodes: []Node{node("n.1", all...)}}}},
			errs: []string{"not a valid hostname"}},
		{name: "even etcd count warns", def: Definition{Clusters: []Cluster{{Name: "c", Nodes: []Node{node("a", all...), node("b", all...)}}}},
			warns: []string{"2 etcd nodes"}},
		{name: "pod and service CIDR overlap", def: Definition{Clusters: []Cluster{{Name: "c", PodCIDR: "10.0.0.0/8", ServiceCIDR: "10.43.0.0/16", Nodes: []Node{node("n", all...)}}}},
			errs: []string{"overlaps"}, wantRef: &Ref{Cluster: 0, Node: -1, Field: "serviceCIDR"}},
		{name: "bad CIDR", def: Definition{Clusters: []Cluster{{Name: "c", PodCIDR: "banana", Nodes: []Node{node("n", all...)}}}},
			errs: []string{"not a CIDR"}},
		{name: "host bits", def: Definition{Clusters: []Cluster{{Name: "c", PodCIDR: "10.42.1.0/16", Nodes: []Node{node("n", all...)}}}},
			errs: []string{"did you mean 10.42.0.0/16"}},
		{name: "pod CIDR too small", def: Definition{Clusters: []Cluster{{Name: "c", PodCIDR: "10.42.0.0/25", Nodes: []Node{node("n", all...)}}}},
			errs: []string{"smaller than a /24"}},
		{name: "pod CIDR without room for the nodes", def: Definition{Clusters: []Cluster{{Name: "c", PodCIDR: "10.42.0.0/24", Nodes: []Node{node("a", all...), node("b", RoleWorker)}}}},
			errs: []string{"room for 1 nodes"}},
		{name: "IPv6", def: Definition{Clusters: []Cluster{{Name: "c", PodCIDR: "fd00::/64", Nodes: []Node{node("n", all...)}}}},
			errs: []string{"only IPv4"}},
		{name: "cluster DNS outside service CIDR", def: Definition{Clusters: []Cluster{{Name: "c", ClusterDNS: "10.99.0.10", Nodes: []Node{node("n", all...)}}}},
			errs: []string{"outside the service CIDR"}},
		{name: "unknown kubernetes version", def: Definition{Clusters: []Cluster{{Name: "c", KubernetesVersion: "v1.12.4", Nodes: []Node{node("n", all...)}}}},
			errs: []string{"v1.37.2"}},
		{name: "bad taint effect", def: Definition{Clusters: []Cluster{{Name: "c", Nodes: []Node{{Name: "n", Roles: all, Taints: []Taint{{Key: "k", Effect: "Never"}}}}}}},
			errs: []string{"taint effect"}, wantRef: &Ref{Cluster: 0, Node: 0, Field: "taints[0]"}},
		{name: "bad label", def: Definition{Clusters: []Cluster{{Name: "c", Nodes: []Node{{Name: "n", Roles: all, Labels: map[string]string{"k": "white space"}}}}}},
			errs: []string{"label value"}, wantRef: &Ref{Cluster: 0, Node: 0, Field: "labels[k]"}},
		{name: "unknown service", def: Definition{Clusters: []Cluster{{Name: "c", Services: map[string]Service{"kube-dns": {}}, Nodes: []Node{node("n", all...)}}}},
			errs: []string{`unknown component "kube-dns"`}},
		{name: "extra arg with dashes", def: Definition{Clusters: []Cluster{{Name: "c", Services: map[string]Service{ComponentKubelet: {ExtraArgs: map[string]string{"--v": "2"}}}, Nodes: []Node{node("n", all...)}}}},
			errs: []string{"without leading dashes"}},
		{name: "too many nodes", def: Definition{Clusters: []Cluster{{Name: "c", Nodes: manyNodes(101)}}},
			errs: []string{"the limit is 100"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.def.ApplyDefaults()
			ps := tt.def.Validate()
			errs, warns := ps.Errors(), ps.Warnings()
			if len(errs) != len(tt.errs) {
				t.Fatalf("got %d errors %v, want %d %q", len(errs), errs, len(tt.errs), tt.errs)
			}
			for i, want := range tt.errs {
				if !strings.Contains(errs[i].Message, want) {
					t.Errorf("error %d = %q, want it to contain %q", i, errs[i].Message, want)
				}
			}
			if len(warns) != len(tt.warns) {
				t.Fatalf("got warnings %v, want %q", warns, tt.warns)
			}
			for i, want := range tt.warns {
				if !strings.Contains(warns[i].Message, want) {
					t.Errorf("warning %d = %q, want %q", i, warns[i].Message, want)
				}
			}
			if tt.wantRef != nil && errs[0].Ref != *tt.wantRef {
				t.Errorf("ref = %+v, want %+v", errs[0].Ref, *tt.wantRef)
			}
			if (len(tt.errs) == 0) != (ps.Err() == nil) {
				t.Errorf("Err() = %v with %d errors", ps.Err(), len(tt.errs))
			}
		})
	}
}

func manyNodes(n int) []Node {
	out := []Node{node("n0", all...)}
	for i := 1; i < n; i++ {
		out = append(out, node("n"+strings.Repeat("x", i), RoleWorker))
	}
	return out
}

func TestContainerName(t *testing.T) {
	for _, tt := range []struct{ cluster, node, want string }{
		{"cluster1", "cluster1-node1", "rke-dind-cluster1-node1"},
		{"c", "node1", "rke-dind-c-node1"},
		{"dev", "devbox", "rke-dind-dev-devbox"},
	} {
		if got := ContainerName(tt.cluster, tt.node); got != tt.want {
			t.Errorf("ContainerName(%q, %q) = %q, want %q", tt.cluster, tt.node, got, tt.want)
		}
	}
}

func TestParseTaint(t *testing.T) {
	for in, want := range map[string]Taint{
		"k=v:NoSchedule":  {Key: "k", Value: "v", Effect: "NoSchedule"},
		"k:NoExecute":     {Key: "k", Effect: "NoExecute"},
		"a/b=c:NoExecute": {Key: "a/b", Value: "c", Effect: "NoExecute"},
	} {
		got, err := ParseTaint(in)
		if err != nil || got != want {
			t.Errorf("ParseTaint(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if got.String() != in {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), in)
		}
	}
	if _, err := ParseTaint("novalue"); err == nil {
		t.Error("ParseTaint without effect succeeded")
	}
}

func TestValidateSubnet(t *testing.T) {
	for subnet, want := range map[string]string{
		"172.30.0.0/24": "",
		"10.42.0.0/24":  "overlaps pod CIDR",
		"10.43.5.0/24":  "overlaps service CIDR",
		"172.30.0.0/31": "room for 0 nodes",
		"nonsense":      "not a CIDR",
	} {
		d := Definition{Clusters: []Cluster{{Name: "c", Subnet: subnet, Nodes: []Node{node("n", all...)}}}}
		d.ApplyDefaults()
		errs := d.Validate().Errors()
		switch {
		case want == "" && len(errs) > 0:
			t.Errorf("subnet %s: %v", subnet, errs)
		case want != "" && (len(errs) != 1 || !strings.Contains(errs[0].Message, want) || errs[0].Ref.Field != "subnet"):
			t.Errorf("subnet %s: got %v, want %q on field subnet", subnet, errs, want)
		}
	}
}

func TestValidateRegistryMirrors(t *testing.T) {
	tests := []struct {
		url        string
		registries []string
		want       string // "" for valid
	}{
		{"https://mirror.example.com:5000", nil, ""},
		{"http://10.0.0.1", nil, ""},
		{"http://10.0.0.1:5000/", []string{"registry.k8s.io", "quay.io", "registry.lab:5000", "localhost", "docker.io", "[::1]:5000"}, ""},
		{"mirror.example.com", nil, "want a URL"},
		{"ftp://x", nil, "want a URL"},
		{"https://a,https://b", nil, "want a URL"},
		{"https://m/v2/", nil, "want a URL"},
		{"https://user:pw@m", nil, "want a URL"},
		{"https://m?x=1", nil, "want a URL"},
		{`https://m"]`, nil, "want a URL"},
		{"http://m", []string{"lab"}, "Docker Hub user"},
		{"http://m", []string{"index.docker.io"}, "named docker.io"},
		{"http://m", []string{"https://registry.k8s.io"}, "want a registry name"},
		{"http://m", []string{"registry.k8s.io/sub"}, "want a registry name"},
		{"http://m", []string{`a"b.io`}, "want a registry name"},
		{"http://m", []string{""}, "want a registry name"},
	}
	for _, tt := range tests {
		d := Definition{Clusters: []Cluster{{Name: "c", RegistryMirrors: []RegistryMirror{{URL: tt.url, Registries: tt.registries}}, Nodes: []Node{node("n", all...)}}}}
		d.ApplyDefaults()
		errs := d.Validate().Errors()
		switch {
		case tt.want == "" && len(errs) > 0:
			t.Errorf("mirror %q %q: %v", tt.url, tt.registries, errs)
		case tt.want != "" && (len(errs) != 1 || !strings.Contains(errs[0].Message, tt.want) || errs[0].Ref.Field != "registryMirrors[0]"):
			t.Errorf("mirror %q %q: got %v, want one error on registryMirrors[0] saying %q", tt.url, tt.registries, errs, tt.want)
		}
	}
}

func TestValidatePortsAndMounts(t *testing.T) {
	withPorts := func(ports ...Port) Node { n := node("n", all...); n.Ports = ports; return n }
	withMounts := func(mounts ...Mount) Node { n := node("n", all...); n.Mounts = mounts; return n }
	tests := []struct {
		name  string
		nodes []Node
		want  string // "" for valid
	}{
		{"a port", []Node{withPorts(Port{HostPort: 8080, NodePort: 30080})}, ""},
		{"same host port, other protocols", []Node{withPorts(Port{HostPort: 53, NodePort: 30053}, Port{HostPort: 53, NodePort: 30053, Protocol: ProtocolUDP})}, ""},
		{"same host port, other addresses", []Node{withPorts(Port{HostPort: 80, NodePort: 30080}, Port{HostPort: 80, NodePort: 30081, HostIP: "127.0.0.2"})}, ""},
		{"two mappings of one host port", []Node{withPorts(Port{HostPort: 80, NodePort: 30080}, Port{HostPort: 80, NodePort: 30081})}, "host port 127.0.0.1:80/tcp is already published"},
		{"every address clashes with loopback", []Node{withPorts(Port{HostPort: 80, NodePort: 30080, HostIP: "0.0.0.0"}, Port{HostPort: 80, NodePort: 30081})}, "already published"},
		{"IPv6 host address", []Node{withPorts(Port{HostPort: 80, NodePort: 30080, HostIP: "::1"})}, ""},
		{"host port zero", []Node{withPorts(Port{HostPort: 0, NodePort: 30080})}, "host port 0"},
		{"node port too big", []Node{withPorts(Port{HostPort: 80, NodePort: 65536})}, "node port 65536"},
		{"unknown protocol", []Node{withPorts(Port{HostPort: 80, NodePort: 80, Protocol: "sctp"})}, `protocol "sctp"`},
		{"host address not an IP", []Node{withPorts(Port{HostPort: 80, NodePort: 80, HostIP: "example.com"})}, "not an IP address"},
		{"a mount", []Node{withMounts(Mount{HostPath: "/srv", NodePath: "/data"})}, ""},
		{"a mount under /var", []Node{withMounts(Mount{HostPath: "/srv", NodePath: "/var/local-data"})}, ""},
		{"node path over the kubelet", []Node{withMounts(Mount{HostPath: "/srv", NodePath: "/var/lib/kubelet"})}, "keeps its own files in /var/lib/kubelet"},
		{"node path over /var", []Node{withMounts(Mount{HostPath: "/srv", NodePath: "/var"})}, "would hide the node's own files"},
		{"node path not clean", []Node{withMounts(Mount{HostPath: "/srv", NodePath: "/data/../etc"})}, "clean absolute path"},
		{"empty host path", []Node{withMounts(Mount{NodePath: "/data"})}, "host path is empty"},
		{"one node path twice", []Node{withMounts(Mount{HostPath: "/srv", NodePath: "/data"}, Mount{HostPath: "/opt", NodePath: "/data"})}, "already mounted by mounts[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Definition{File: "/defs/cluster.go", Clusters: []Cluster{{Name: "c", Nodes: tt.nodes}}}
			d.ApplyDefaults()
			errs := d.Validate().Errors()
			switch {
			case tt.want == "" && len(errs) > 0:
				t.Errorf("unexpected errors: %v", errs)
			case tt.want != "" && (len(errs) != 1 || !strings.Contains(errs[0].Message, tt.want)):
				t.Errorf("got %v, want one error saying %q", errs, tt.want)
			case tt.want != "" && !strings.HasPrefix(errs[0].Ref.Field, "ports[") && !strings.HasPrefix(errs[0].Ref.Field, "mounts["):
				t.Errorf("error points at %q, want the port or mount", errs[0].Ref.Field)
			}
		})
	}
}

func TestPortClashNamesTheFirstNodeAcrossClusters(t *testing.T) {
	a, b := node("a1", all...), node("b1", all...)
	a.Ports = []Port{{HostPort: 9000, NodePort: 30000}}
	b.Ports = []Port{{HostPort: 9000, NodePort: 30001}}
	d := Definition{Clusters: []Cluster{{Name: "a", Nodes: []Node{a}}, {Name: "b", Nodes: []Node{b}}}}
	d.ApplyDefaults()
	errs := d.Validate().Errors()
	if len(errs) != 1 || errs[0].Ref != (Ref{Cluster: 1, Node: 0, Field: "ports[0]"}) || !strings.Contains(errs[0].Message, `cluster "a" node "a1"`) {
		t.Fatalf("got %+v", errs)
	}
}

func TestNodeDefaults(t *testing.T) {
	n := node("n", all...)
	n.Ports = []Port{{HostPort: 80, NodePort: 30080}, {HostPort: 53, NodePort: 53, Protocol: ProtocolUDP, HostIP: "0.0.0.0"}}
	n.Mounts = []Mount{{HostPath: "data", NodePath: "/data"}, {HostPath: "../shared", NodePath: "/shared"}, {HostPath: "/abs", NodePath: "/abs"}}
	d := Definition{File: "/defs/lab/cluster.go", Clusters: []Cluster{{Name: "c", Nodes: []Node{n}}}}
	d.ApplyDefaults()
	got := d.Clusters[0].Nodes[0]
	wantPorts := []Port{{HostPort: 80, NodePort: 30080, Protocol: ProtocolTCP, HostIP: "127.0.0.1"}, {HostPort: 53, NodePort: 53, Protocol: ProtocolUDP, HostIP: "0.0.0.0"}}
	for i, p := range wantPorts {
		if got.Ports[i] != p {
			t.Errorf("port %d = %+v, want %+v", i, got.Ports[i], p)
		}
	}
	for i, want := range []string{"/defs/lab/data", "/defs/shared", "/abs"} {
		if got.Mounts[i].HostPath != want {
			t.Errorf("mount %d host path = %q, want %q (relative to the definition's folder)", i, got.Mounts[i].HostPath, want)
		}
	}
	if s := got.Ports[0].String(); s != "127.0.0.1:80->30080/tcp" {
		t.Errorf("String() = %q", s)
	}
}

func TestCheckFindsMissingHostPaths(t *testing.T) {
	dir := t.TempDir()
	n := node("n", all...)
	n.Mounts = []Mount{{HostPath: ".", NodePath: "/here"}, {HostPath: "missing", NodePath: "/missing"}}
	d := Definition{File: dir + "/cluster.go", Clusters: []Cluster{{Name: "c", Nodes: []Node{n}}}}
	errs := d.Check().Errors()
	if len(errs) != 1 || errs[0].Ref.Field != "mounts[1]" || !strings.Contains(errs[0].Message, dir+"/missing: no such file or directory") || errs[0].Subject != `cluster "c" node "n"` {
		t.Fatalf("got %+v", errs)
	}
}

func TestValuesThatReachConfigs(t *testing.T) {
	base := func() Cluster { return Cluster{Name: "c", Nodes: []Node{node("n", all...)}} }
	for _, tt := range []struct {
		name string
		edit func(*Cluster)
		want string // error, "" for none
	}{
		{"domain with a newline", func(c *Cluster) { c.ClusterDomain = "cluster.local\nforward . 1.2.3.4" }, "cluster domain"},
		{"domain not DNS", func(c *Cluster) { c.ClusterDomain = "Cluster_Local" }, "cluster domain"},
		{"a good domain", func(c *Cluster) { c.ClusterDomain = "lab.example.com" }, ""},
		{"node image", func(c *Cluster) { c.NodeImage = "not an image" }, "invalid reference format"},
		{"a node's image", func(c *Cluster) { c.Nodes[0].Image = "UPPER:case" }, "invalid reference format"},
		{"component image", func(c *Cluster) { c.Images.CoreDNS = "coredns:1.14 --conf /etc/passwd" }, "invalid reference format"},
		{"registry image", func(c *Cluster) { c.Images.Etcd = "registry.example.com:5000/etcd:v3.6.16" }, ""},
		{"flag name", func(c *Cluster) {
			c.Services = map[string]Service{ComponentKubelet: {ExtraArgs: map[string]string{"v=2 --x": "1"}}}
		}, "want letters, digits and dashes"},
		{"flag value with a newline", func(c *Cluster) {
			c.Services = map[string]Service{ComponentAPIServer: {ExtraArgs: map[string]string{"v": "2\n--anonymous-auth=true"}}}
		}, "control character"},
		{"env name", func(c *Cluster) { c.Services = map[string]Service{ComponentEtcd: {ExtraEnv: []string{"A B=1"}}} }, "NAME of letters"},
		{"mount path with a newline", func(c *Cluster) { c.Nodes[0].Mounts = []Mount{{HostPath: "/srv\n", NodePath: "/data"}} }, "control character"},
	} {
		c := base()
		tt.edit(&c)
		d := Definition{Clusters: []Cluster{c}}
		d.ApplyDefaults()
		errs := d.Validate().Errors()
		switch {
		case tt.want == "" && len(errs) > 0:
			t.Errorf("%s: %v", tt.name, errs)
		case tt.want != "" && (len(errs) != 1 || !strings.Contains(errs[0].Message, tt.want)):
			t.Errorf("%s: got %v, want %q", tt.name, errs, tt.want)
		}
	}
}

// Extra args that weaken a component's security are allowed (a local
// cluster may want them) and named in a warning.
func TestWeakeningArgsWarn(t *testing.T) {
	for _, tt := range []struct {
		component, flag, value string
		warns                  bool
	}{
		{ComponentAPIServer, "anonymous-auth", "true", true},
		{ComponentAPIServer, "authorization-mode", "AlwaysAllow", true},
		{ComponentKubelet, "read-only-port", "10255", true},
		{ComponentEtcd, "client-cert-auth", "false", true},
		{ComponentEtcd, "listen-client-urls", "http://0.0.0.0:2379", true},
		{ComponentEtcd, "listen-metrics-urls", "http://127.0.0.1:2381", false},
		{ComponentAPIServer, "v", "4", false},
		{ComponentAPIServer, "anonymous-auth", "false", false},
	} {
		d := Definition{Clusters: []Cluster{{Name: "c", Services: map[string]Service{tt.component: {ExtraArgs: map[string]string{tt.flag: tt.value}}}, Nodes: []Node{node("n", all...)}}}}
		d.ApplyDefaults()
		ps := d.Validate()
		warns := ps.Warnings()
		if len(ps.Errors()) > 0 || (len(warns) > 0) != tt.warns {
			t.Errorf("%s %s=%s: warnings %v errors %v", tt.component, tt.flag, tt.value, warns, ps.Errors())
		}
		if tt.warns && !strings.Contains(warns[0].Message, tt.flag+"="+tt.value) {
			t.Errorf("the warning does not name the flag: %v", warns[0])
		}
	}
}

func TestImageRegistryProblem(t *testing.T) {
	for registry, want := range map[string]string{
		"registry.lab:5000":        "",
		"registry.lab:5000/team":   "",
		"localhost/a/b":            "",
		"127.0.0.1:5000":           "",
		"lab":                      "Docker Hub user",
		"lab/team":                 "Docker Hub user",
		"index.docker.io":          "named docker.io",
		"registry.lab/Team":        "lowercase",
		"registry.lab/team/":       "lowercase",
		"http://registry.lab:5000": "registry name",
		"":                         "registry name",
	} {
		got := ImageRegistryProblem(registry)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("ImageRegistryProblem(%q) = %q, want %q", registry, got, want)
		}
	}
}
