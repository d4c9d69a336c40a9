package runtime

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker-rke/docker-rke/images"
	"github.com/docker-rke/docker-rke/model"
)

var update = flag.Bool("update", false, "rewrite golden files")

var all = []model.Role{model.RoleControlPlane, model.RoleEtcd, model.RoleWorker}

func build(t *testing.T, c model.Cluster) Cluster {
	t.Helper()
	def := &model.Definition{File: "t.go", Clusters: []model.Cluster{c}}
	def.ApplyDefaults()
	if err := def.Validate().Err(); err != nil {
		t.Fatal(err)
	}
	p, err := Build(def)
	if err != nil {
		t.Fatal(err)
	}
	return p.Clusters[0]
}

func componentNames(n Node) []string {
	var out []string
	for _, c := range n.Components {
		out = append(out, c.Name)
	}
	return out
}

func TestComponentsFollowRoles(t *testing.T) {
	cp := []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"}
	node := []string{"kubelet", "kube-proxy"}
	proxied := append([]string{"api-proxy"}, node...)
	tests := []struct {
		roles []model.Role
		want  []string
	}{
		{all, append(append([]string{"etcd"}, cp...), node...)},
		{[]model.Role{model.RoleWorker}, proxied},
		{[]model.Role{model.RoleEtcd}, append([]string{"etcd"}, proxied...)},
		{[]model.Role{model.RoleControlPlane}, append(append([]string{}, cp...), node...)},
		{[]model.Role{model.RoleWorker, model.RoleEtcd}, append([]string{"etcd"}, proxied...)},
	}
	for _, tt := range tests {
		c := build(t, model.Cluster{Name: "c", Nodes: []model.Node{{Name: "base", Roles: all}, {Name: "x", Roles: tt.roles}}})
		if got := componentNames(c.Nodes[1]); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("roles %v: components %v, want %v", tt.roles, got, tt.want)
		}
	}
}

func TestNodeFields(t *testing.T) {
	c := build(t, model.Cluster{Name: "cluster1", Nodes: []model.Node{
		{Name: "cluster1-node1", Roles: []model.Role{model.RoleWorker, model.RoleEtcd, model.RoleControlPlane, model.RoleWorker},
			Labels: map[string]string{"disk": "ssd"}, Taints: []model.Taint{{Key: "k", Value: "v", Effect: "NoSchedule"}}},
	}})
	n := c.Nodes[0]
	if n.ContainerName != "rke-dind-cluster1-node1" || n.Hostname != "cluster1-node1" {
		t.Errorf("container %q hostname %q", n.ContainerName, n.Hostname)
	}
	if !reflect.DeepEqual(n.Roles, all) {
		t.Errorf("roles %v, want RKE order without duplicates %v", n.Roles, all)
	}
	wantLabels := map[string]string{"disk": "ssd", "node-role.kubernetes.io/controlplane": "true", "node-role.kubernetes.io/etcd": "true", "node-role.kubernetes.io/worker": "true"}
	if !reflect.DeepEqual(n.Labels, wantLabels) {
		t.Errorf("labels %v", n.Labels)
	}
	kubelet := n.Components[len(n.Components)-2]
	if !contains(kubelet.Args, "--node-labels=disk=ssd") || !contains(kubelet.Args, "--register-with-taints=k=v:NoSchedule") {
		t.Errorf("kubelet args %v lack the user's labels and taints", kubelet.Args)
	}
	for _, a := range kubelet.Args {
		if strings.Contains(a, "node-role.kubernetes.io") {
			t.Errorf("kubelet may not set role labels itself (NodeRestriction): %s", a)
		}
	}
	if c.Network != "rke-cluster1" || c.ClusterDNS != "10.43.0.10" {
		t.Errorf("network %q cluster DNS %q", c.Network, c.ClusterDNS)
	}
}

func TestEtcdMembersAndServers(t *testing.T) {
	c := build(t, model.Cluster{Name: "c", Nodes: []model.Node{
		{Name: "e1", Roles: []model.Role{model.RoleEtcd}},
		{Name: "cp", Roles: []model.Role{model.RoleControlPlane, model.RoleWorker}},
		{Name: "e2", Roles: []model.Role{model.RoleEtcd}},
		{Name: "e3", Roles: []model.Role{model.RoleEtcd}},
	}})
	etcd := c.Nodes[2].Components[0]
	if !contains(etcd.Args, "--initial-cluster=e1=https://e1:2380,e2=https://e2:2380,e3=https://e3:2380") || !contains(etcd.Args, "--name=e2") {
		t.Errorf("etcd args %v", etcd.Args)
	}
	api := c.Nodes[1].Components[0]
	if api.Name != "kube-apiserver" || !contains(api.Args, "--etcd-servers=https://e1:2379,https://e2:2379,https://e3:2379") {
		t.Errorf("apiserver args %v", api.Args)
	}
	for _, want := range []string{"--anonymous-auth=false", "--authorization-mode=Node,RBAC", "--encryption-provider-config=" + EncryptionConfig} {
		if !contains(api.Args, want) {
			t.Errorf("apiserver lacks %s", want)
		}
	}
	cm := c.Nodes[1].Components[1]
	for _, want := range []string{"--allocate-node-cidrs=true", "--cluster-cidr=10.42.0.0/16", "--leader-elect=true"} {
		if !contains(cm.Args, want) {
			t.Errorf("controller-manager lacks %s", want)
		}
	}
}

func TestUserOverrides(t *testing.T) {
	c := build(t, model.Cluster{
		Name:      "c",
		NodeImage: "my/node:1",
		Images:    model.Images{Etcd: "my/etcd:1"},
		Services: map[string]model.Service{
			model.ComponentAPIServer: {ExtraArgs: map[string]string{"v": "4", "anonymous-auth": "true"}, ExtraBinds: []string{"/a:/b"}, ExtraEnv: []string{"X=1"}},
		},
		Nodes: []model.Node{{Name: "n", Roles: all}},
	})
	if c.NodeImage != "my/node:1" || c.Images.Etcd != "my/etcd:1" || c.Nodes[0].Components[0].Image != "my/etcd:1" {
		t.Errorf("image overrides not applied: %+v", c.Images)
	}
	if etcd := c.Nodes[0].Components[0]; etcd.Command[0] != "etcd" || contains(etcd.Binds, BinDir+":"+BinDir+":ro") {
		t.Errorf("a user's etcd image must run as it is: %v %v", etcd.Command, etcd.Binds)
	}
	if !strings.HasPrefix(c.Images.Kubernetes, "docker-rke/kubernetes:") {
		t.Errorf("kubernetes image %q, want the built one", c.Images.Kubernetes)
	}
	api := c.Nodes[0].Components[1]
	// The built Kubernetes runs with the node's binaries bound in: the
	// static control plane from the pause image, kubelet and kube-proxy
	// from the runtime image (the tools they call).
	if api.Image != c.Images.Pause || api.Command[0] != BinDir+"/kube-apiserver" || !contains(api.Binds, BinDir+":"+BinDir+":ro") {
		t.Errorf("apiserver image %s command %v binds %v", api.Image, api.Command, api.Binds)
	}
	for _, name := range []string{model.ComponentKubelet, model.ComponentKubeProxy} {
		if comp, _ := findComponent(c.Nodes[0], name); comp.Image != c.Images.Runtime {
			t.Errorf("%s runs from %s, want the runtime image", name, comp.Image)
		}
	}
	if !contains(api.Args, "--v=4") || !contains(api.Args, "--anonymous-auth=true") || contains(api.Args, "--anonymous-auth=false") {
		t.Errorf("extra args must be added and win: %v", api.Args)
	}
	if !contains(api.Binds, "/a:/b") || !contains(api.Env, "X=1") {
		t.Errorf("extra binds/env missing: %v %v", api.Binds, api.Env)
	}
}

// TestGoldenAndDeterministic pins the plan of cluster1 and checks that
// building it again gives the same bytes.
func TestGoldenAndDeterministic(t *testing.T) {
	mk := func() []byte {
		def := &model.Definition{File: "cluster1.go", Clusters: []model.Cluster{{Name: "cluster1", Nodes: []model.Node{
			{Name: "cluster1-node1", Roles: all, Labels: map[string]string{"b": "2", "a": "1", "c": "3"}},
			{Name: "cluster1-node2", Roles: []model.Role{model.RoleWorker}},
			{Name: "cluster1-node3", Roles: []model.Role{model.RoleWorker}},
		}}}}
		def.ApplyDefaults()
		p, err := Build(def)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetIndent("", "  ")
		if err := enc.Encode(p); err != nil {
			t.Fatal(err)
		}
		// The node image is named by the hash of its recipe, which changes
		// with every change to the node image; the plan only has to use it.
		rel, _ := images.Lookup(images.DefaultKubernetesVersion())
		return bytes.ReplaceAll(b.Bytes(), []byte(images.NodeImage(rel)), []byte("NODE-IMAGE-OF-THE-RELEASE"))
	}
	first := mk()
	for i := 0; i < 20; i++ {
		if again := mk(); !bytes.Equal(first, again) {
			t.Fatal("the same definition gave two different plans")
		}
	}
	golden := filepath.Join("testdata", "cluster1.plan.json")
	if *update {
		if err := os.WriteFile(golden, first, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./runtime -update to create it)", err)
	}
	if !bytes.Equal(first, want) {
		t.Errorf("plan differs from %s; if the change is intended, run go test ./runtime -update and review the diff", golden)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestAPIProxyReachesEveryControlPlane(t *testing.T) {
	c := build(t, model.Cluster{Name: "c", Nodes: []model.Node{
		{Name: "cp1", Roles: []model.Role{model.RoleControlPlane, model.RoleEtcd}},
		{Name: "w1", Roles: []model.Role{model.RoleWorker}},
		{Name: "cp2", Roles: []model.Role{model.RoleControlPlane}},
	}})
	comp, ok := findComponent(c.Nodes[1], ComponentAPIProxy)
	if !ok {
		t.Fatalf("worker has no %s: %v", ComponentAPIProxy, componentNames(c.Nodes[1]))
	}
	want := []string{"--listen=127.0.0.1:6443", "cp1:6443", "cp2:6443"}
	if !reflect.DeepEqual(comp.Args, want) {
		t.Errorf("api-proxy args %v, want %v", comp.Args, want)
	}
	if _, ok := findComponent(c.Nodes[0], ComponentAPIProxy); ok {
		t.Errorf("a controlplane node runs its own API server, not the proxy")
	}
}

func TestDNSPlan(t *testing.T) {
	one := build(t, model.Cluster{Name: "c", Nodes: []model.Node{{Name: "n1", Roles: all}}})
	if one.DNS.Replicas != 1 || one.DNS.Image != one.Images.Pause || one.DNS.HostBin != BinDir {
		t.Errorf("one node: DNS %+v", one.DNS)
	}
	two := build(t, model.Cluster{Name: "c", Nodes: []model.Node{{Name: "n1", Roles: all}, {Name: "n2", Roles: all}}})
	if two.DNS.Replicas != 2 {
		t.Errorf("two nodes: %d replicas, want 2", two.DNS.Replicas)
	}
	own := build(t, model.Cluster{Name: "c", Images: model.Images{CoreDNS: "example.com/coredns:1"}, Nodes: []model.Node{{Name: "n1", Roles: all}}})
	if own.DNS.Image != "example.com/coredns:1" || own.DNS.HostBin != "" || len(own.DNS.Command) != 0 {
		t.Errorf("the user's CoreDNS image runs as it is: %+v", own.DNS)
	}
}

func findComponent(n Node, name string) (Component, bool) {
	for _, c := range n.Components {
		if c.Name == name {
			return c, true
		}
	}
	return Component{}, false
}

// The node's ports and mounts are in its plan, and its kubelet sees the
// mounted folders at the same paths (it checks hostPath volumes' types).
func TestPortsAndMountsInThePlan(t *testing.T) {
	n := model.Node{Name: "n", Roles: all,
		Ports:  []model.Port{{HostPort: 8080, NodePort: 30080}},
		Mounts: []model.Mount{{HostPath: "/srv/a", NodePath: "/data", ReadOnly: true}, {HostPath: "/srv/b", NodePath: "/scratch"}}}
	c := build(t, model.Cluster{Name: "c", Nodes: []model.Node{n}})
	pn := c.Nodes[0]
	if len(pn.Ports) != 1 || pn.Ports[0].HostIP != "127.0.0.1" || len(pn.Mounts) != 2 {
		t.Errorf("ports %+v mounts %+v", pn.Ports, pn.Mounts)
	}
	for _, comp := range pn.Components {
		has := strings.Join(comp.Binds, " ")
		want := comp.Name == model.ComponentKubelet
		if got := strings.Contains(has, "/data:/data:ro") && strings.Contains(has, "/scratch:/scratch"); got != want {
			t.Errorf("%s binds %v", comp.Name, comp.Binds)
		}
	}
}

// A cluster's state keeps its plan: plans written before health checks
// and taints had fields still read.
func TestOlderPlansRead(t *testing.T) {
	var n Node
	if err := json.Unmarshal([]byte(`{"name":"n","taints":["dedicated=db:NoSchedule"],"components":[{"name":"etcd","health":"http://127.0.0.1:2381/health"}]}`), &n); err != nil {
		t.Fatal(err)
	}
	if n.Components[0].Health.URL != "http://127.0.0.1:2381/health" || n.Taints[0] != (model.Taint{Key: "dedicated", Value: "db", Effect: "NoSchedule"}) {
		t.Errorf("read %+v", n)
	}
}

// Mirrors are given per mirror; containerd wants them per registry, in
// the order the definition named them.
func TestRegistryHosts(t *testing.T) {
	c := build(t, model.Cluster{Name: "c", Nodes: []model.Node{{Name: "n", Roles: all}}, RegistryMirrors: []model.RegistryMirror{
		{URL: "https://hub.lab"},
		{URL: "http://lab:5000", Registries: []string{"registry.k8s.io", "docker.io"}},
		{URL: "http://lab:5000", Registries: []string{"docker.io"}},
		{URL: "https://k8s.lab", Registries: []string{"registry.k8s.io"}},
	}})
	want := []RegistryHosts{
		{Registry: "docker.io", Mirrors: []string{"https://hub.lab", "http://lab:5000"}},
		{Registry: "registry.k8s.io", Mirrors: []string{"http://lab:5000", "https://k8s.lab"}},
	}
	if !reflect.DeepEqual(c.Registries, want) {
		t.Errorf("registries %+v, want %+v", c.Registries, want)
	}
	if none := build(t, model.Cluster{Name: "c", Nodes: []model.Node{{Name: "n", Roles: all}}}); none.Registries != nil {
		t.Errorf("no mirrors: %+v", none.Registries)
	}
}

// BenchmarkBuild1000 plans what testdata/bench/100x10.go defines: 100
// clusters of one all-roles node and nine workers.
func BenchmarkBuild1000(b *testing.B) {
	def := &model.Definition{File: "100x10.go"}
	for i := 0; i < 100; i++ {
		name := fmt.Sprintf("bench%03d", i)
		c := model.Cluster{Name: name, PodCIDR: "10.42.0.0/16", Nodes: []model.Node{{Name: name + "-node1", Roles: all}}}
		for j := 2; j <= 10; j++ {
			c.Nodes = append(c.Nodes, model.Node{Name: fmt.Sprintf("%s-node%d", name, j), Roles: []model.Role{model.RoleWorker}, Labels: map[string]string{"index": fmt.Sprint(j)}})
		}
		def.Clusters = append(def.Clusters, c)
	}
	def.ApplyDefaults()
	if err := def.Validate().Err(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(def); err != nil {
			b.Fatal(err)
		}
	}
}

// Recurring etcd snapshots run on every etcd node, and only there, with
// the member's own certificate.
func TestEtcdSnapshotsComponent(t *testing.T) {
	c := build(t, model.Cluster{Name: "c", EtcdSnapshots: &model.EtcdSnapshots{Interval: 2 * time.Hour, Retention: 4}, Nodes: []model.Node{
		{Name: "e1", Roles: all}, {Name: "w1", Roles: []model.Role{model.RoleWorker}},
	}})
	for _, n := range c.Nodes {
		i := slices.IndexFunc(n.Components, func(comp Component) bool { return comp.Name == ComponentEtcdSnapshots })
		if (i >= 0) != (n.Name == "e1") {
			t.Fatalf("node %s: components %v", n.Name, componentNames(n))
		}
		if i < 0 {
			continue
		}
		args := strings.Join(n.Components[i].Args, " ")
		for _, want := range []string{"--interval=2h0m0s", "--retention=4", "--cert=" + Cert(CertEtcd("e1")), "--cacert=" + Cert(CertEtcdCA)} {
			if !strings.Contains(args, want) {
				t.Errorf("args %q lack %q", args, want)
			}
		}
		if n.Components[i-1].Name != model.ComponentEtcd {
			t.Errorf("not right after etcd: %v", componentNames(n))
		}
	}
	if none := build(t, model.Cluster{Name: "c", Nodes: []model.Node{{Name: "e1", Roles: all}}}); slices.ContainsFunc(none.Nodes[0].Components, func(comp Component) bool { return comp.Name == ComponentEtcdSnapshots }) {
		t.Error("planned without being asked for")
	}
}

// TestNodeComponentsAsIfPlannedWhole: the kubelet and kube-proxy a node
// gets from the shared part and its own flags are what planning the
// whole component for the node gives, the user's extra_args winning over
// a node's own flag and its host folders' binds before extra_binds.
func TestNodeComponentsAsIfPlannedWhole(t *testing.T) {
	c := model.Cluster{
		Name: "c",
		Services: map[string]model.Service{
			model.ComponentKubelet:   {ExtraArgs: map[string]string{"v": "2", "node-labels": "mine=1", "zzz": "last"}, ExtraBinds: []string{"/x:/x"}},
			model.ComponentKubeProxy: {ExtraArgs: map[string]string{"hostname-override": "fixed", "aaa": "first"}},
		},
		Nodes: []model.Node{
			{Name: "n1", Roles: all, Labels: map[string]string{"b": "2", "a": "1"}, Taints: []model.Taint{{Key: "k", Value: "v", Effect: "NoSchedule"}},
				Mounts: []model.Mount{{HostPath: "/h", NodePath: "/data", ReadOnly: true}}},
			{Name: "n2", Roles: []model.Role{model.RoleWorker}},
		},
	}
	got := build(t, c)
	def := &model.Definition{Clusters: []model.Cluster{c}}
	def.ApplyDefaults()
	cm := def.Clusters[0]
	rel, err := images.Lookup(cm.KubernetesVersion)
	if err != nil {
		t.Fatal(err)
	}
	cc := clusterContext{model: cm, plan: &Cluster{Images: rel.Defaults()}, builtin: rel.Defaults()}
	for i, n := range cm.Nodes {
		kubeletFlags := map[string]string{"config": KubeletConfig, "kubeconfig": Kubeconfig("kube-node"), "hostname-override": n.Name}
		if n.Name == "n1" {
			kubeletFlags["node-labels"], kubeletFlags["register-with-taints"] = "a=1,b=2", "k=v:NoSchedule"
		}
		want := cc.component(model.ComponentKubelet, rel.Defaults().Kubernetes, []string{"kubelet"}, kubeletFlags, append(slices.Clone(cc.kubeletShared().Binds[1:len(cc.kubeletShared().Binds)-1]), mountBinds(n.Mounts)...), Health{})
		k, _ := findComponent(got.Nodes[i], model.ComponentKubelet)
		if !slices.Equal(k.Args, want.Args) || !slices.Equal(k.Binds, want.Binds) {
			t.Errorf("node %s kubelet:\nargs  %v\nwant  %v\nbinds %v\nwant  %v", n.Name, k.Args, want.Args, k.Binds, want.Binds)
		}
		proxy, _ := findComponent(got.Nodes[i], model.ComponentKubeProxy)
		if !contains(proxy.Args, "--hostname-override=fixed") || contains(proxy.Args, "--hostname-override="+n.Name) || proxy.Args[0] != "--aaa=first" {
			t.Errorf("node %s kube-proxy args %v: extra_args must win and stay sorted", n.Name, proxy.Args)
		}
		if !slices.IsSortedFunc(k.Args, func(a, b string) int { return strings.Compare(flagName(a), flagName(b)) }) {
			t.Errorf("node %s kubelet args not sorted: %v", n.Name, k.Args)
		}
	}
	if a, b := got.Nodes[0].Components, got.Nodes[1].Components; &a[len(a)-1].Args[0] == &b[len(b)-1].Args[0] {
		t.Error("two nodes share one kube-proxy argument slice")
	}
}
