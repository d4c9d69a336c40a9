package dind

import (
	"reflect"
	"testing"

	"github.com/docker/docker/api/types/container"

	"github.com/docker-rke/docker-rke/model"
	"github.com/docker-rke/docker-rke/runtime"
)

func plan(t *testing.T, subnet string) runtime.Cluster {
	t.Helper()
	def := &model.Definition{File: "t.go", Clusters: []model.Cluster{{Name: "c1", Subnet: subnet, NodeImage: "img:1", Nodes: []model.Node{
		{Name: "c1-node1", Roles: []model.Role{model.RoleWorker, model.RoleControlPlane, model.RoleEtcd}},
		{Name: "c1-node2", Roles: []model.Role{model.RoleWorker}, Image: "other:2"},
	}}}}
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

func TestNodeContainerCapabilities(t *testing.T) {
	c := plan(t, "")
	s := NodeContainer(c, c.Nodes[0], Capabilities, "")
	if s.Name != "rke-dind-c1-node1" || s.Config.Hostname != "c1-node1" || s.Config.Image != "img:1" {
		t.Errorf("name %q hostname %q image %q", s.Name, s.Config.Hostname, s.Config.Image)
	}
	h := s.Host
	if h.Privileged {
		t.Error("capabilities mode must not be privileged")
	}
	if !reflect.DeepEqual([]string(h.CapAdd), []string{"ALL"}) || !reflect.DeepEqual([]string(h.CapDrop), []string{"SYS_RESOURCE"}) {
		t.Errorf("caps add %v drop %v", h.CapAdd, h.CapDrop)
	}
	if h.MaskedPaths == nil || len(h.MaskedPaths) != 0 || h.ReadonlyPaths == nil || len(h.ReadonlyPaths) != 0 {
		t.Errorf("system paths must be unconfined (empty, not nil): %v %v", h.MaskedPaths, h.ReadonlyPaths)
	}
	if !reflect.DeepEqual(h.SecurityOpt, []string{"seccomp=unconfined", "apparmor=unconfined"}) {
		t.Errorf("security opts %v", h.SecurityOpt)
	}
	if !reflect.DeepEqual(h.Resources.DeviceCgroupRules, []string{"a *:* rwm"}) {
		t.Errorf("device rules %v", h.Resources.DeviceCgroupRules)
	}
	checkCommon(t, s)
}

func TestNodeContainerPrivileged(t *testing.T) {
	c := plan(t, "")
	s := NodeContainer(c, c.Nodes[1], Privileged, "")
	if !s.Host.Privileged || len(s.Host.CapAdd) != 0 || s.Host.MaskedPaths != nil {
		t.Errorf("privileged mode: %+v", s.Host)
	}
	if s.Config.Image != "other:2" {
		t.Errorf("per-node image not used: %q", s.Config.Image)
	}
	checkCommon(t, s)
}

func checkCommon(t *testing.T, s NodeSpec) {
	t.Helper()
	h := s.Host
	if h.RestartPolicy.Name != container.RestartPolicyUnlessStopped {
		t.Errorf("restart policy %q", h.RestartPolicy.Name)
	}
	if h.CgroupnsMode != container.CgroupnsModePrivate {
		t.Errorf("cgroupns %q", h.CgroupnsMode)
	}
	if len(h.Mounts) != 1 || h.Mounts[0].Target != "/var" || h.Mounts[0].Type != "volume" || h.Mounts[0].Source != "" {
		t.Errorf("want one anonymous volume for /var, got %+v", h.Mounts)
	}
	if !reflect.DeepEqual(h.Tmpfs, map[string]string{"/run": "", "/tmp": ""}) {
		t.Errorf("tmpfs %v", h.Tmpfs)
	}
	if !reflect.DeepEqual(h.Binds, []string{"/lib/modules:/lib/modules:ro"}) {
		t.Errorf("binds %v", h.Binds)
	}
	if string(h.NetworkMode) != "rke-c1" || s.Networking.EndpointsConfig["rke-c1"] == nil {
		t.Errorf("network %q %v", h.NetworkMode, s.Networking.EndpointsConfig)
	}
	for port, bindings := range h.PortBindings {
		// Only the API server, and only on loopback: the node's engine
		// is reached through the tunnel alone.
		if port != "6443/tcp" || len(bindings) != 1 || bindings[0].HostIP != "127.0.0.1" {
			t.Errorf("node publishes %s %v", port, bindings)
		}
	}
	for _, k := range []string{LabelCluster, LabelNode, LabelRoles, LabelKubernetesVersion, LabelMode, LabelSpec} {
		if s.Config.Labels[k] == "" {
			t.Errorf("label %s missing", k)
		}
	}
	if s.Config.Labels[LabelSpec] != s.Hash {
		t.Error("spec label differs from the hash")
	}
}

func TestPublishedAPIServer(t *testing.T) {
	c := plan(t, "")
	if b := NodeContainer(c, c.Nodes[0], Capabilities, "").Host.PortBindings; len(b) != 1 {
		t.Errorf("a controlplane node must publish the API server on loopback: %v", b)
	}
	if b := NodeContainer(c, c.Nodes[1], Capabilities, "").Host.PortBindings; len(b) != 0 {
		t.Errorf("a worker publishes %v", b)
	}
}

func TestSpecHash(t *testing.T) {
	c := plan(t, "")
	a := NodeContainer(c, c.Nodes[0], Capabilities, "")
	b := NodeContainer(c, c.Nodes[0], Capabilities, "")
	if a.Hash != b.Hash {
		t.Fatal("the same node gave two hashes")
	}
	if NodeContainer(c, c.Nodes[0], Privileged, "").Hash == a.Hash {
		t.Error("mode change not seen as drift")
	}
	c.Nodes[0].Image = "img:2"
	if NodeContainer(c, c.Nodes[0], Capabilities, "").Hash == a.Hash {
		t.Error("image change not seen as drift")
	}
	c.Nodes[0].Image = "img:1"
	fixed := NodeContainer(c, c.Nodes[0], Capabilities, "172.30.9.2")
	if fixed.Hash == a.Hash {
		t.Error("a fixed address not seen as drift")
	}
	if ep := fixed.Networking.EndpointsConfig[c.Network]; ep == nil || ep.IPAMConfig == nil || ep.IPAMConfig.IPv4Address != "172.30.9.2" || ep.Aliases[0] != "c1-node1" {
		t.Errorf("endpoint with a fixed address: %+v", ep)
	}
	if ep := a.Networking.EndpointsConfig[c.Network]; ep == nil || ep.IPAMConfig != nil {
		t.Errorf("endpoint without an address: %+v", ep)
	}
	if roles := a.Config.Labels[LabelRoles]; roles != "controlplane,etcd,worker" {
		t.Errorf("roles label %q", roles)
	}
}

func TestClusterNetwork(t *testing.T) {
	name, opts := ClusterNetwork(plan(t, ""))
	if name != "rke-c1" || opts.Labels[LabelCluster] != "c1" || opts.Labels[LabelFixedAddresses] != "true" || opts.IPAM != nil || opts.Driver != "bridge" {
		t.Errorf("network %s %+v", name, opts)
	}
	_, opts = ClusterNetwork(plan(t, "172.30.9.0/24"))
	if opts.IPAM == nil || opts.IPAM.Config[0].Subnet != "172.30.9.0/24" {
		t.Errorf("subnet not set: %+v", opts.IPAM)
	}
}

// TestComponentPrivileges: a privileged component gets --privileged in a
// privileged node, and the node's own capability set where privileged
// containers cannot start.
func TestComponentPrivileges(t *testing.T) {
	c := runtime.Component{Name: "kubelet", Image: "img", Command: []string{"kubelet"}, Privileged: true, HostPID: true, HostNetwork: true}
	_, host, hashPriv := componentSpec(c, "f", Privileged)
	if !host.Privileged || len(host.CapAdd) != 0 || host.PidMode != "host" {
		t.Errorf("privileged node: %+v", host)
	}
	_, host, hashCaps := componentSpec(c, "f", Capabilities)
	if host.Privileged || len(host.CapAdd) != 1 || host.CapAdd[0] != "ALL" || len(host.CapDrop) != 1 || host.CapDrop[0] != "SYS_RESOURCE" || len(host.Resources.DeviceCgroupRules) != 1 {
		t.Errorf("capabilities node: %+v", host)
	}
	if hashPriv == hashCaps {
		t.Error("the two translations share a spec hash")
	}
	c.Privileged = false
	if _, host, _ := componentSpec(c, "f", Capabilities); host.Privileged || len(host.CapAdd) != 0 {
		t.Errorf("an unprivileged component got privileges: %+v", host)
	}
}
