package rkeyaml

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/docker-rke/docker-rke/model"
)

func parseFile(t *testing.T, path string) (*model.Definition, model.Problems) {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	def, warnings, err := Parse(path, src)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return def, warnings
}

// The article's two files work unchanged: the cluster is named after the
// file, addresses become node names, and the SSH user goes without a
// warning (how RKE reaches hosts means nothing here, on every node).
func TestArticleFiles(t *testing.T) {
	for _, name := range []string{"cluster1", "cluster2"} {
		def, warnings := parseFile(t, filepath.Join("..", "..", "samples", name+".yml"))
		c := def.Clusters[0]
		if c.Name != name || len(c.Nodes) != 3 {
			t.Fatalf("%s: got cluster %q with %d nodes", name, c.Name, len(c.Nodes))
		}
		for i, n := range c.Nodes {
			if want := name + "-node" + string(rune('1'+i)); n.Name != want {
				t.Errorf("node %d named %q, want %q", i, n.Name, want)
			}
		}
		if len(warnings) != 0 {
			t.Errorf("want no warning, got %v", warnings)
		}
	}
}

func TestFullRKEConfig(t *testing.T) {
	def, warnings := parseFile(t, filepath.Join("..", "..", "testdata", "rke", "full-cluster.yml"))
	c := def.Clusters[0]
	want := model.Cluster{
		Name:              "lab",
		KubernetesVersion: "v1.37.2-rancher1-1",
		PodCIDR:           "10.52.0.0/16",
		ServiceCIDR:       "10.53.0.0/16",
		ClusterDomain:     "lab.local",
		ClusterDNS:        "10.53.0.10",
		PodSecurity:       "restricted",
		Images: model.Images{
			Kubernetes: "rancher/hyperkube:v1.27.10-rancher1",
			Etcd:       "rancher/mirrored-coreos-etcd:v3.5.9",
			CoreDNS:    "rancher/mirrored-coredns-coredns:1.10.1",
			Pause:      "rancher/mirrored-pause:3.7",
		},
		Services: map[string]model.Service{
			model.ComponentEtcd:              {ExtraArgs: map[string]string{"election-timeout": "5000"}, ExtraBinds: []string{}, ExtraEnv: []string{}},
			model.ComponentAPIServer:         {ExtraArgs: map[string]string{"v": "2"}},
			model.ComponentControllerManager: {ExtraArgs: map[string]string{}},
			model.ComponentScheduler:         {ExtraArgs: map[string]string{}},
			model.ComponentKubelet:           {ExtraArgs: map[string]string{"max-pods": "150"}, ExtraBinds: []string{"/srv/data:/srv/data"}},
			model.ComponentKubeProxy:         {ExtraArgs: map[string]string{}},
		},
		Nodes: []model.Node{
			{Name: "lab-node1", Roles: []model.Role{"controlplane", "worker", "etcd"}, Labels: map[string]string{"disk": "ssd"}, Taints: []model.Taint{}},
			{Name: "lab-node2", Roles: []model.Role{"worker"}, Taints: []model.Taint{{Key: "dedicated", Value: "db", Effect: "NoSchedule"}}},
		},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}

	// One warning per field that sets something and is not used; none for
	// empty fields, none twice for the same field of several nodes.
	var fields []string
	for _, w := range warnings {
		if !w.Warning || w.Pos.Line == 0 {
			t.Errorf("warning without a line: %v", w)
		}
		fields = append(fields, w.Field)
	}
	sort.Strings(fields)
	wantFields := []string{
		"addon_job_timeout", "authentication", "authorization", "dns", "ingress", "monitoring",
		"network", "services.kube-api.always_pull_images", "some_future_field",
		"system_images.alpine", "system_images.cert_downloader", "system_images.kubernetes_services_sidecar",
		"system_images.nginx_proxy",
	}
	if !reflect.DeepEqual(fields, wantFields) {
		t.Errorf("warnings for\n%q\nwant\n%q", fields, wantFields)
	}
	for _, w := range warnings {
		if w.Field == "some_future_field" && !strings.Contains(w.Message, "unknown field") {
			t.Errorf("unknown field warning says %q", w.Message)
		}
	}
}

func TestValidationErrorsNameYAMLFields(t *testing.T) {
	src := "cluster_name: c1\nnodes:\n  - address: n1\n    role: [controlplane, etcd, worker]\n  - address: n2\n    role: [worker]\n    labels:\n      \"bad key!\": x\n"
	_, _, err := Parse("c.yml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "c.yml:8:7") || !strings.Contains(err.Error(), "nodes[1].labels.bad key!") {
		t.Fatalf("err = %v, want the label's line and YAML path", err)
	}
}

func TestClusterNameFromFile(t *testing.T) {
	def, _, err := Parse("/some/dir/prod-eu.yaml", []byte("nodes:\n  - address: n1\n    role: [controlplane, etcd, worker]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if def.Clusters[0].Name != "prod-eu" {
		t.Errorf("name %q, want prod-eu", def.Clusters[0].Name)
	}
}

func TestTenThousandNodes(t *testing.T) {
	var b strings.Builder
	b.WriteString("nodes:\n")
	for i := 0; i < 10000; i++ {
		b.WriteString("  - address: n" + strings.Repeat("x", i%3) + "\n    role: [worker]\n")
	}
	_, _, err := Parse("big.yml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "the limit is 100") || !strings.Contains(err.Error(), "big.yml:202:") {
		t.Fatalf("err = %v, want the node limit at the 101st node (line 202)", err)
	}
}

func TestPrivateRegistries(t *testing.T) {
	src := `nodes:
  - address: n1
    role: [controlplane, etcd, worker]
system_images:
  etcd: my/etcd:1
private_registries:
  - url: registry.lab:5000
    user: admin
    password: secret
    is_default: true
  - url: http://mirror.lab
  - url: http://lab
`
	def, warnings, err := Parse("r.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	c := def.Clusters[0]
	if !reflect.DeepEqual(c.RegistryMirrors, []model.RegistryMirror{
		{URL: "https://registry.lab:5000", Registries: []string{"docker.io", "registry.lab:5000"}},
		{URL: "http://mirror.lab", Registries: []string{"docker.io", "mirror.lab"}},
		{URL: "http://lab", Registries: []string{"docker.io"}},
	}) {
		t.Errorf("mirrors %v", c.RegistryMirrors)
	}
	if c.Images.Etcd != "my/etcd:1" || c.Images.Kubernetes != "registry.lab:5000/docker-rke/kubernetes:v1.37.2" || c.Images.Pause != "registry.lab:5000/docker-rke/pause:3.10" {
		t.Errorf("is_default must prefix the images system_images does not name: %+v", c.Images)
	}
	if c.ImageRegistry != "registry.lab:5000" {
		t.Errorf("is_default must be where the node image is pulled from: %q", c.ImageRegistry)
	}
	var fields []string
	for _, w := range warnings {
		fields = append(fields, w.Field)
	}
	if !reflect.DeepEqual(fields, []string{"private_registries[].user", "private_registries[].password"}) {
		t.Errorf("warnings %v", fields)
	}
}

// docker rke's own settings live under one top-level key, which RKE
// ignores; its nodes are named as in nodes[], whatever the key order.
func TestExtension(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := `docker_rke:
  nodes:
    - node: web
      ports:
        - host_port: 8080
          node_port: 30080
        - host_port: 5353
          node_port: 30053
          protocol: UDP
          host_ip: 0.0.0.0
      mounts:
        - host_path: data
          node_path: /data
          read_only: true
  registry_mirrors:
    - url: http://10.0.0.9:5000
      registries: [registry.k8s.io, quay.io]
    - url: https://hub.lab
  subnet: 172.31.250.0/24
nodes:
  - address: 10.0.0.1
    hostname_override: web
    role: [controlplane, etcd, worker]
  - address: other
    role: [worker]
`
	file := filepath.Join(dir, "cluster.yml")
	def, warnings, err := Parse(file, []byte(src))
	if err != nil || len(warnings) != 0 {
		t.Fatalf("err %v, warnings %v", err, warnings)
	}
	n := def.Clusters[0].Nodes[0]
	wantPorts := []model.Port{{HostPort: 8080, NodePort: 30080, Protocol: "tcp", HostIP: "127.0.0.1"}, {HostPort: 5353, NodePort: 30053, Protocol: "udp", HostIP: "0.0.0.0"}}
	wantMounts := []model.Mount{{HostPath: filepath.Join(dir, "data"), NodePath: "/data", ReadOnly: true}}
	if !reflect.DeepEqual(n.Ports, wantPorts) || !reflect.DeepEqual(n.Mounts, wantMounts) {
		t.Errorf("ports %+v\nmounts %+v", n.Ports, n.Mounts)
	}
	if other := def.Clusters[0].Nodes[1]; other.Ports != nil || other.Mounts != nil {
		t.Errorf("node other got settings: %+v", other)
	}
	wantMirrors := []model.RegistryMirror{{URL: "http://10.0.0.9:5000", Registries: []string{"registry.k8s.io", "quay.io"}}, {URL: "https://hub.lab"}}
	if got := def.Clusters[0].RegistryMirrors; !reflect.DeepEqual(got, wantMirrors) {
		t.Errorf("registry mirrors %+v", got)
	}
	if got := def.Clusters[0].Subnet; got != "172.31.250.0/24" {
		t.Errorf("subnet %q", got)
	}
}

func TestExtensionErrorsPointAtTheirLines(t *testing.T) {
	for name, tt := range map[string]struct {
		src, want string
		line      int
	}{
		"node twice":      {"nodes:\n  - address: a\n    role: [controlplane, etcd, worker]\ndocker_rke:\n  nodes:\n    - node: a\n    - node: a\n", "already has its settings", 7},
		"no node":         {"nodes:\n  - address: a\n    role: [controlplane, etcd, worker]\ndocker_rke:\n  nodes:\n    - ports: []\n", "no node", 6},
		"unknown key":     {"nodes:\n  - address: a\n    role: [controlplane, etcd, worker]\ndocker_rke:\n  clusters: []\n", "unknown field", 5},
		"ports a string":  {"nodes:\n  - address: a\n    role: [controlplane, etcd, worker]\ndocker_rke:\n  nodes:\n    - node: a\n      ports: 8080\n", "want a list", 7},
		"mirror field":    {"nodes:\n  - address: a\n    role: [controlplane, etcd, worker]\ndocker_rke:\n  registry_mirrors:\n    - url: http://m.lab\n      mirrors: [quay.io]\n", "unknown field", 7},
		"mirror registry": {"nodes:\n  - address: a\n    role: [controlplane, etcd, worker]\ndocker_rke:\n  registry_mirrors:\n    - url: http://m.lab\n    - url: http://m.lab\n      registries: [lab]\n", "Docker Hub user", 7},
		"subnet list":     {"nodes:\n  - address: a\n    role: [controlplane, etcd, worker]\ndocker_rke:\n  subnet: [10.0.0.0/24]\n", "want a string", 5},
		"mirror url":      {"nodes:\n  - address: a\n    role: [controlplane, etcd, worker]\ndocker_rke:\n  registry_mirrors:\n    - url: m.lab\n", "want a URL", 6},
		"bad port":        {"nodes:\n  - address: a\n    role: [controlplane, etcd, worker]\ndocker_rke:\n  nodes:\n    - node: a\n      ports:\n        - host_port: 0\n          node_port: 80\n", "host port 0", 8},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := Parse("c.yml", []byte(tt.src))
			var invalid *model.InvalidError
			if !errors.As(err, &invalid) {
				t.Fatalf("err = %v", err)
			}
			p := invalid.Problems[0]
			if !strings.Contains(p.Message, tt.want) || p.Pos.Line != tt.line {
				t.Errorf("got %v, want %q at line %d", p, tt.want, tt.line)
			}
		})
	}
}

// YAML merge keys work as yaml.v3's Decode has them: nodes share defaults
// through an anchor, their own keys win, and merged labels are a map like
// any other.
func TestMergeKeys(t *testing.T) {
	src := `
x-node: &node
  role: [worker]
  labels: &labels {tier: web, disk: ssd}
nodes:
  - address: cp
    role: [controlplane, etcd]
  - <<: *node
    address: w1
  - <<: *node
    address: w2
    labels:
      <<: *labels
      disk: hdd
`
	def, _, err := Parse("merge.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	nodes := def.Clusters[0].Nodes
	if len(nodes) != 3 {
		t.Fatalf("got %d nodes, want 3", len(nodes))
	}
	for _, n := range nodes[1:] {
		if !reflect.DeepEqual(n.Roles, []model.Role{model.RoleWorker}) {
			t.Errorf("%s: roles %v, want the merged [worker]", n.Name, n.Roles)
		}
	}
	if got, want := nodes[1].Labels, map[string]string{"tier": "web", "disk": "ssd"}; !reflect.DeepEqual(got, want) {
		t.Errorf("w1 labels %v, want %v", got, want)
	}
	if got, want := nodes[2].Labels, map[string]string{"tier": "web", "disk": "hdd"}; !reflect.DeepEqual(got, want) {
		t.Errorf("w2 labels %v, want its own disk over the merged one: %v", got, want)
	}
}

// Aliases that expand a little are fine; the budget is for expansion that
// would take the walk past MaxExpandedNodes, and it is found before any
// walk starts.
func TestAliasExpansionBudget(t *testing.T) {
	small := "roles: &r [controlplane, etcd, worker]\nnodes:\n  - {address: a, role: *r}\n  - {address: b, role: *r}\n"
	if _, _, err := Parse("small.yml", []byte(small)); err != nil {
		t.Fatalf("two aliases: %v", err)
	}
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 6; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for j := 0; j < 10; j++ {
			fmt.Fprintf(&b, "*a%d, ", i-1)
		}
		b.WriteString("]\n")
	}
	b.WriteString("nodes:\n  - {address: a, role: [controlplane, etcd, worker]}\n")
	_, _, err := Parse("bomb.yml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "alias bombs") || !strings.Contains(err.Error(), "bomb.yml:7:") {
		t.Fatalf("10^7 expanded nodes: got %v, want the alias bomb refused at line 7", err)
	}
}

// An x- key only holds anchors: no warning, unlike any other unknown key.
func TestXKeysHoldAnchorsQuietly(t *testing.T) {
	src := "x-roles: &r [controlplane, etcd, worker]\ndefaults: 1\nnodes:\n  - {address: a, role: *r}\n"
	_, warnings, err := Parse("x.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || warnings[0].Field != "defaults" {
		t.Fatalf("warnings %v, want one, for defaults", warnings)
	}
}

// Recurring etcd snapshots as RKE reads them: backup_config (defaults 12
// hours, 6 kept; enabled false: none), else the older snapshot, creation
// and retention (how long, turned into how many).
func TestEtcdSnapshots(t *testing.T) {
	const nodes = "nodes:\n  - address: a\n    role: [controlplane, etcd, worker]\n"
	for name, tt := range map[string]struct {
		src  string
		want *model.EtcdSnapshots
	}{
		"backup_config": {"services:\n  etcd:\n    backup_config:\n      interval_hours: 2\n      retention: 4\n", &model.EtcdSnapshots{Interval: 2 * time.Hour, Retention: 4}},
		"defaults":      {"services:\n  etcd:\n    backup_config: {}\n", &model.EtcdSnapshots{Interval: 12 * time.Hour, Retention: 6}},
		"disabled":      {"services:\n  etcd:\n    backup_config:\n      enabled: false\n", nil},
		"legacy":        {"services:\n  etcd:\n    snapshot: true\n    creation: 6h\n    retention: 24h\n", &model.EtcdSnapshots{Interval: 6 * time.Hour, Retention: 4}},
		"legacy off":    {"services:\n  etcd:\n    snapshot: false\n    creation: 6h\n", nil},
		"backup wins":   {"services:\n  etcd:\n    snapshot: true\n    creation: 1h\n    backup_config:\n      interval_hours: 3\n", &model.EtcdSnapshots{Interval: 3 * time.Hour, Retention: 6}},
		"none":          {"", nil},
	} {
		t.Run(name, func(t *testing.T) {
			def, _, err := Parse("c.yml", []byte(nodes+tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if got := def.Clusters[0].EtcdSnapshots; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	_, _, err := Parse("c.yml", []byte(nodes+"services:\n  etcd:\n    backup_config:\n      interval_hours: 0\n"))
	var invalid *model.InvalidError
	if !errors.As(err, &invalid) || !strings.Contains(invalid.Problems[0].Message, "want between 1m0s") || invalid.Problems[0].Pos.Line != 7 {
		t.Errorf("interval 0: %v", err)
	}
}
