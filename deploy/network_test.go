package deploy

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/docker-rke/docker-rke/model"
)

func TestAssignPodCIDRs(t *testing.T) {
	got, err := assignPodCIDRs("10.42.0.0/16", 24, nil, []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "10.42.0.0/24", "b": "10.42.1.0/24", "c": "10.42.2.0/24"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fresh: %v, want %v", got, want)
	}
	// b left, d came: a and c keep theirs, d takes the lowest free block.
	got, err = assignPodCIDRs("10.42.0.0/16", 24, want, []string{"a", "c", "d"})
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"a": "10.42.0.0/24", "c": "10.42.2.0/24", "d": "10.42.1.0/24"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after a change: %v, want %v", got, want)
	}
	// A block outside the cluster CIDR (the CIDR changed) is replaced.
	got, _ = assignPodCIDRs("10.50.0.0/16", 24, want, []string{"a"})
	if got["a"] != "10.50.0.0/24" {
		t.Errorf("stale block kept: %v", got)
	}
	if _, err := assignPodCIDRs("10.42.0.0/23", 24, nil, []string{"a", "b", "c"}); err == nil || !strings.Contains(err.Error(), "node c") {
		t.Errorf("a full CIDR must name the node left out: %v", err)
	}
	if _, err := assignPodCIDRs("10.42.0.0/25", 24, nil, []string{"a"}); err == nil {
		t.Error("a CIDR smaller than one block must fail")
	}
}

func TestNetworkScript(t *testing.T) {
	c := plan(t)
	s := networkScript(c, []peer{{"10.42.2.0/24", "172.18.0.4"}, {"10.42.1.0/24", "172.18.0.3"}})
	for _, want := range []string{
		"ip route replace unreachable 10.42.0.0/16 proto 187\n",
		"-A RKE-CONTAIN -d 10.43.0.0/16 -p tcp -j REJECT --reject-with tcp-reset\n",
		"-A RKE-CONTAIN -d 10.43.0.0/16 -j REJECT --reject-with icmp-port-unreachable\n",
		`for chain in FORWARD OUTPUT`,
		"ip route replace 10.42.1.0/24 via 172.18.0.3 proto 187\nip route replace 10.42.2.0/24 via 172.18.0.4 proto 187\n",
		`case " 10.42.1.0/24 10.42.2.0/24 "`,
		"-A RKE-POSTROUTING -d 10.42.0.0/16 -j RETURN",
		"-A RKE-POSTROUTING -s 10.42.0.0/16 -j MASQUERADE",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
}

func TestCNIConfig(t *testing.T) {
	var conf struct {
		Plugins []struct {
			Type   string `json:"type"`
			IPMasq bool   `json:"ipMasq"`
			IPAM   struct {
				Ranges [][]struct{ Subnet string } `json:"ranges"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(cniConfig("10.42.3.0/24"), &conf); err != nil {
		t.Fatal(err)
	}
	if len(conf.Plugins) != 2 || conf.Plugins[0].Type != "ptp" || conf.Plugins[0].IPMasq || conf.Plugins[0].IPAM.Ranges[0][0].Subnet != "10.42.3.0/24" || conf.Plugins[1].Type != "portmap" {
		t.Errorf("conflist: %+v", conf)
	}
}

func TestKubeletConfig(t *testing.T) {
	c := plan(t)
	var conf map[string]any
	if err := yaml.Unmarshal(kubeletConfig(c, "w"), &conf); err != nil {
		t.Fatal(err)
	}
	if conf["failCgroupV1"] != false || conf["cgroupDriver"] != "cgroupfs" || conf["tlsCertFile"] != "/etc/kubernetes/ssl/kube-kubelet-w.pem" {
		t.Errorf("kubelet config: %v", conf)
	}
	if dns := conf["clusterDNS"].([]any); len(dns) != 1 || dns[0] != c.ClusterDNS {
		t.Errorf("cluster DNS %v, want %s", dns, c.ClusterDNS)
	}
	if anon := conf["authentication"].(map[string]any)["anonymous"].(map[string]any)["enabled"]; anon != false {
		t.Error("kubelet must refuse anonymous requests")
	}
}

func TestNodeObjectAndMerge(t *testing.T) {
	c := plan(t)
	w := c.Nodes[2]
	w.Labels["disk"] = "ssd"
	w.Taints = []model.Taint{{Key: "dedicated", Value: "db", Effect: "NoSchedule"}}
	n := nodeObject(w, "10.42.2.0/24")
	if n.Labels["node-role.kubernetes.io/worker"] != "true" || n.Labels["disk"] != "ssd" || n.Spec.PodCIDR != "10.42.2.0/24" {
		t.Errorf("node: %+v", n)
	}
	if len(n.Spec.Taints) != 1 || n.Spec.Taints[0] != (corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}) {
		t.Errorf("taints: %v", n.Spec.Taints)
	}
	// An existing Node with an old role, a taint of someone else's and
	// the kubelet's own labels.
	have := n.DeepCopy()
	have.Labels = map[string]string{"node-role.kubernetes.io/etcd": "true", "beta.kubernetes.io/arch": "amd64"}
	have.Spec.Taints = []corev1.Taint{{Key: "other", Effect: corev1.TaintEffectNoExecute}, {Key: "dedicated", Value: "web", Effect: corev1.TaintEffectNoSchedule}}
	merged, changed := mergeNode(have, n)
	if !changed {
		t.Fatal("changes not seen")
	}
	if _, ok := merged.Labels["node-role.kubernetes.io/etcd"]; ok {
		t.Error("a role the plan dropped stays")
	}
	if merged.Labels["beta.kubernetes.io/arch"] != "amd64" || merged.Labels["disk"] != "ssd" {
		t.Errorf("labels: %v", merged.Labels)
	}
	if len(merged.Spec.Taints) != 2 || merged.Spec.Taints[1].Value != "db" {
		t.Errorf("taints: %v", merged.Spec.Taints)
	}
	if _, changed := mergeNode(merged, n); changed {
		t.Error("a merged node changed again")
	}
}
