package dind

import (
	"reflect"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/network"
)

func TestNodeAddresses(t *testing.T) {
	nodes := []string{"n1", "n2", "n3"}
	got, err := nodeAddresses("172.30.9.0/24", "172.30.9.1", nil, nodes)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"n1": "172.30.9.2", "n2": "172.30.9.3", "n3": "172.30.9.4"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fresh: %v, want %v", got, want)
	}

	// Kept: what nodes have; a new node takes the lowest free address,
	// here the one a removed node left.
	got, err = nodeAddresses("172.30.9.0/24", "172.30.9.1", map[string]string{"n1": "172.30.9.2", "n3": "172.30.9.4"}, []string{"n1", "n3", "n4"})
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"n1": "172.30.9.2", "n3": "172.30.9.4", "n4": "172.30.9.3"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("kept: %v, want %v", got, want)
	}

	// Not kept: outside the subnet, the gateway, or taken twice.
	got, err = nodeAddresses("10.9.0.0/16", "10.9.0.1", map[string]string{"n1": "172.30.9.2", "n2": "10.9.0.1", "n3": "10.9.0.7", "n4": "10.9.0.7"}, []string{"n1", "n2", "n3", "n4"})
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"n1": "10.9.0.2", "n2": "10.9.0.3", "n3": "10.9.0.7", "n4": "10.9.0.4"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("not kept: %v, want %v", got, want)
	}

	// A gateway the engine put elsewhere.
	got, err = nodeAddresses("192.168.16.0/20", "192.168.16.2", nil, []string{"n1", "n2"})
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"n1": "192.168.16.1", "n2": "192.168.16.3"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("gateway .2: %v, want %v", got, want)
	}
}

func TestNodeAddressesFull(t *testing.T) {
	// A /30 has two usable addresses, one of them the gateway.
	if _, err := nodeAddresses("10.0.0.0/30", "10.0.0.1", nil, []string{"n1", "n2"}); err == nil || !strings.Contains(err.Error(), "no free address for node container n2") {
		t.Errorf("full subnet: %v", err)
	}
	for _, bad := range []string{"", "10.0.0.0", "fd00::/64", "10.0.0.0/31"} {
		if _, err := nodeAddresses(bad, "", nil, []string{"n1"}); err == nil {
			t.Errorf("subnet %q accepted", bad)
		}
	}
}

func TestJudgeNetwork(t *testing.T) {
	// The engine shows a subnet for every network, given or chosen.
	ipam := network.IPAM{Config: []network.IPAMConfig{{Subnet: "172.30.9.0/24", Gateway: "172.30.9.1"}}}
	fixed := map[string]string{LabelCluster: "c1", LabelFixedAddresses: "true"}
	withSubnet := network.Inspect{IPAM: ipam, Labels: fixed}
	without := network.Inspect{IPAM: ipam, Labels: map[string]string{LabelCluster: "c1"}}
	probe := network.Inspect{Internal: true, IPAM: ipam, Labels: fixed}
	for _, tc := range []struct {
		name   string
		nw     network.Inspect
		subnet string
		want   networkVerdict
	}{
		{"subnet, none planned", withSubnet, "", keepFixed},
		{"the planned subnet", withSubnet, "172.30.9.0/24", keepFixed},
		{"another subnet planned", withSubnet, "10.9.0.0/16", replace},
		{"older network, none planned", without, "", keepUnfixed},
		{"older network, another subnet planned", without, "10.9.0.0/16", replace},
		{"older network, its subnet planned", without, "172.30.9.0/24", keepUnfixed},
		{"a leftover probe", probe, "", replace},
	} {
		if got, why := judgeNetwork(tc.nw, tc.subnet); got != tc.want || (got == replace) != (why != "") {
			t.Errorf("%s: %v %q, want %v", tc.name, got, why, tc.want)
		}
	}
}
