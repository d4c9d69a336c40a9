package dind

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/go-connections/nat"

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
	s := NodeContainer(c, c.Nodes[0], NodeOptions{Mode: Capabilities, APIPort: 41000})
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
	s := NodeContainer(c, c.Nodes[1], NodeOptions{Mode: Privileged})
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
	if len(h.Mounts) != 1 || h.Mounts[0].Target != "/var" || h.Mounts[0].Type != "volume" || h.Mounts[0].Source != s.Name+"-var" || !h.Mounts[0].VolumeOptions.NoCopy {
		t.Errorf("want the node's named volume at /var, got %+v", h.Mounts)
	}
	if s.Volume.Name != s.Name+"-var" || s.Volume.Labels[LabelCluster] != "c1" || s.Volume.Labels[LabelNode] == "" {
		t.Errorf("volume %+v", s.Volume)
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
		if port != "6443/tcp" || len(bindings) != 1 || bindings[0].HostIP != "127.0.0.1" || bindings[0].HostPort != "41000" {
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
	if b := NodeContainer(c, c.Nodes[0], NodeOptions{Mode: Capabilities, APIPort: 41000}).Host.PortBindings; len(b) != 1 {
		t.Errorf("a controlplane node must publish the API server on loopback: %v", b)
	}
	if b := NodeContainer(c, c.Nodes[1], NodeOptions{Mode: Capabilities}).Host.PortBindings; len(b) != 0 {
		t.Errorf("a worker publishes %v", b)
	}
}

func TestSpecHash(t *testing.T) {
	c := plan(t, "")
	a := NodeContainer(c, c.Nodes[0], NodeOptions{Mode: Capabilities, APIPort: 41000})
	b := NodeContainer(c, c.Nodes[0], NodeOptions{Mode: Capabilities, APIPort: 41000})
	if a.Hash != b.Hash {
		t.Fatal("the same node gave two hashes")
	}
	if NodeContainer(c, c.Nodes[0], NodeOptions{Mode: Privileged, APIPort: 41000}).Hash == a.Hash {
		t.Error("mode change not seen as drift")
	}
	c.Nodes[0].Image = "img:2"
	if NodeContainer(c, c.Nodes[0], NodeOptions{Mode: Capabilities, APIPort: 41000}).Hash == a.Hash {
		t.Error("image change not seen as drift")
	}
	c.Nodes[0].Image = "img:1"
	fixed := NodeContainer(c, c.Nodes[0], NodeOptions{Mode: Capabilities, APIPort: 41000, Address: "172.30.9.2"})
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

func TestNodePortsAndMounts(t *testing.T) {
	c := plan(t, "")
	n := c.Nodes[0]
	n.Ports = []model.Port{{HostPort: 8080, NodePort: 30080, Protocol: "tcp", HostIP: "127.0.0.1"}, {HostPort: 5353, NodePort: 53, Protocol: "udp", HostIP: "0.0.0.0"}, {HostPort: 6444, NodePort: 6443, Protocol: "tcp", HostIP: "127.0.0.1"}}
	n.Mounts = []model.Mount{{HostPath: "/srv/data", NodePath: "/data", ReadOnly: true}}
	s := NodeContainer(c, n, NodeOptions{Mode: Privileged, APIPort: 41000})
	want := map[string][]string{
		"30080/tcp": {"127.0.0.1:8080"},
		"53/udp":    {"0.0.0.0:5353"},
		// The API server's own port and the definition's mapping of it.
		"6443/tcp": {"127.0.0.1:41000", "127.0.0.1:6444"},
	}
	if len(s.Host.PortBindings) != len(want) {
		t.Errorf("bindings %v", s.Host.PortBindings)
	}
	for port, hosts := range want {
		var got []string
		for _, b := range s.Host.PortBindings[nat.Port(port)] {
			got = append(got, b.HostIP+":"+b.HostPort)
		}
		if !reflect.DeepEqual(got, hosts) {
			t.Errorf("%s published on %v, want %v", port, got, hosts)
		}
		if _, ok := s.Config.ExposedPorts[nat.Port(port)]; !ok {
			t.Errorf("%s not exposed", port)
		}
	}
	if m := s.Host.Mounts[len(s.Host.Mounts)-1]; m.Type != mount.TypeBind || m.Source != "/srv/data" || m.Target != "/data" || !m.ReadOnly {
		t.Errorf("mount %+v", m)
	}
	if s.Config.Labels[LabelAPIPort] != "41000" {
		t.Errorf("api port label %q", s.Config.Labels[LabelAPIPort])
	}
	n.Mounts[0].ReadOnly = false
	if NodeContainer(c, n, NodeOptions{Mode: Privileged, APIPort: 41000}).Hash == s.Hash {
		t.Error("a mount's change not seen as drift")
	}
}

func TestAPIPorts(t *testing.T) {
	c := plan(t, "")
	c.Nodes[1].Roles = append(c.Nodes[1].Roles, model.RoleControlPlane)
	c.Nodes[1].Ports = []model.Port{{HostPort: 50001, NodePort: 80}}
	next := 50000
	pick := func() (int, error) { next++; return next, nil }
	// node1 keeps its port; node2 gets a new one, never a port the
	// definition maps.
	existing := map[string]*container.Summary{"rke-dind-c1-node1": {Labels: map[string]string{LabelAPIPort: "50002"}}}
	s, err := apiPorts(c, existing, pick)
	if err != nil {
		t.Fatal(err)
	}
	if p := s.of(c.Nodes[0]); p != 50002 || s.picked(c.Nodes[0]) {
		t.Errorf("node1: port %d picked %v, want its own 50002", p, s.picked(c.Nodes[0]))
	}
	if p := s.of(c.Nodes[1]); p != 50003 || !s.picked(c.Nodes[1]) {
		t.Errorf("node2: port %d picked %v, want 50003 picked", p, s.picked(c.Nodes[1]))
	}
	if p, _ := s.repick(c.Nodes[1]); p != 50004 || s.of(c.Nodes[1]) != 50004 {
		t.Errorf("repick gave %d", p)
	}
}

func TestTakenHostPort(t *testing.T) {
	for msg, want := range map[string]int{
		"driver failed programming external connectivity on endpoint rke-dind-c-n1 (abc): Bind for 127.0.0.1:8080 failed: port is already allocated":                8080,
		"driver failed programming external connectivity on endpoint x (y): Error starting userland proxy: listen tcp4 0.0.0.0:30443: bind: address already in use": 30443,
		"OCI runtime create failed": 0,
	} {
		got, ok := takenHostPort(errors.New(msg))
		if got != want || ok != (want != 0) {
			t.Errorf("%q: %d %v, want %d", msg, got, ok, want)
		}
	}
	c := plan(t, "")
	n := c.Nodes[1]
	n.Ports = []model.Port{{HostPort: 8080, NodePort: 30080, Protocol: "tcp", HostIP: "127.0.0.1"}}
	err := startError(NodeContainer(c, n, NodeOptions{Mode: Privileged}), errors.New("Bind for 127.0.0.1:8080 failed: port is already allocated"))
	if !strings.Contains(err.Error(), "host port 127.0.0.1:8080 (node port 30080/tcp) is already in use") {
		t.Errorf("start error: %v", err)
	}
}

func TestDescribeDrift(t *testing.T) {
	c := plan(t, "")
	n := c.Nodes[1]
	old := NodeContainer(c, n, NodeOptions{Mode: Privileged})
	inspect := func(s NodeSpec, varVolume string) container.InspectResponse {
		return container.InspectResponse{
			ContainerJSONBase: &container.ContainerJSONBase{HostConfig: s.Host},
			Config:            s.Config,
			Mounts:            []container.MountPoint{{Type: mount.TypeVolume, Name: varVolume, Destination: "/var"}},
		}
	}
	if got := describeDrift(inspect(old, old.Volume.Name), old, c.Network); !reflect.DeepEqual(got, []string{"made by another version of docker rke"}) {
		t.Errorf("no visible change: %v", got)
	}
	n.Image = "img:3"
	n.Ports = []model.Port{{HostPort: 8080, NodePort: 30080, Protocol: "tcp", HostIP: "127.0.0.1"}}
	n.Mounts = []model.Mount{{HostPath: "/srv", NodePath: "/srv", ReadOnly: true}}
	want := NodeContainer(c, n, NodeOptions{Mode: Privileged})
	got := describeDrift(inspect(old, "0123456789abcdef0123"), want, c.Network)
	for _, w := range []string{"image other:2 -> img:3", "ports +127.0.0.1:8080->30080/tcp", "mounts +/srv:/srv:ro", "/var moves from the container's own volume into rke-dind-c1-node2-var"} {
		if !slices.Contains(got, w) {
			t.Errorf("drift %q missing from %q", w, got)
		}
	}
}
