package plugin

import (
	"strings"
	"testing"

	"github.com/docker/docker/api/types/network"

	"github.com/docker-rke/docker-rke/runtime"
)

func TestSubnetChecks(t *testing.T) {
	nets := []network.Summary{
		{Name: "bridge", IPAM: network.IPAM{Config: []network.IPAMConfig{{Subnet: "172.17.0.0/16"}}}},
		{Name: "rke-mine", IPAM: network.IPAM{Config: []network.IPAMConfig{{Subnet: "172.30.1.0/24"}}}},
		{Name: "lab", IPAM: network.IPAM{Config: []network.IPAMConfig{{Subnet: "fd00::/64"}, {Subnet: "10.9.0.0/16"}}}},
	}
	got := subnetChecks([]runtime.Cluster{
		{Name: "auto"},                            // the engine picks: nothing to check
		{Name: "mine", Subnet: "172.30.1.0/24"},   // its own network
		{Name: "inside", Subnet: "172.17.5.0/24"}, // inside bridge's
		{Name: "around", Subnet: "10.0.0.0/8"},    // around lab's
		{Name: "free", Subnet: "192.168.77.0/24"},
	}, nets)
	want := []string{
		"ok cluster mine: subnet 172.30.1.0/24 is free",
		"fail cluster inside: subnet 172.17.5.0/24 overlaps 172.17.0.0/16 of the engine's network bridge docker network rm bridge",
		"fail cluster around: subnet 10.0.0.0/8 overlaps 10.9.0.0/16 of the engine's network lab docker network rm lab",
		"ok cluster free: subnet 192.168.77.0/24 is free",
	}
	if len(got) != len(want) {
		t.Fatalf("%d checks, want %d: %+v", len(got), len(want), got)
	}
	for i, c := range got {
		for _, part := range strings.Fields(want[i]) {
			if !strings.Contains(c.Status+" "+c.Detail+" "+c.Fix, part) {
				t.Errorf("check %d %+v lacks %q", i, c, part)
			}
		}
	}
	if err := preflightError(got); err == nil || !strings.Contains(err.Error(), "subnets: cluster inside") || !strings.Contains(err.Error(), "cluster around") || strings.Contains(err.Error(), "cluster free") {
		t.Errorf("preflight error: %v", err)
	}
	if err := preflightError(got[:1]); err != nil {
		t.Errorf("nothing failed, yet %v", err)
	}
}

func TestHostChecks(t *testing.T) {
	status := func(checks []check) map[string]string {
		m := map[string]string{}
		for _, c := range checks {
			m[c.Name] = c.Status
		}
		return m
	}
	good := parseKeyValues("kernel=6.1.0\ninotify_instances=8192\ninotify_watches=1048576\nmodule_overlay=yes\nmodule_br_netfilter=no\ndisk_free_kib=104857600\nnameservers=10.255.255.53 \n")
	for name, s := range status(hostChecks(good)) {
		if s != checkOK {
			t.Errorf("a good host: %s is %s", name, s)
		}
	}
	bad := parseKeyValues("inotify_instances=128\ninotify_watches=8192\nmodule_overlay=no\ndisk_free_kib=1048576\n")
	got := status(hostChecks(bad))
	for name, want := range map[string]string{"inotify": checkWarn, "overlay": checkWarn, "disk": checkFail, "br_netfilter": checkOK, "dns": checkWarn} {
		if got[name] != want {
			t.Errorf("a poor host: %s is %s, want %s", name, got[name], want)
		}
	}
	if s := status(hostChecks(parseKeyValues("garbage")))["disk"]; s != checkWarn {
		t.Errorf("unreadable output: disk %s, want a warning", s)
	}
}

func TestDNSCheck(t *testing.T) {
	for servers, want := range map[string]string{
		"10.255.255.53":        checkOK,
		"192.168.1.1 8.8.8.8":  checkOK,
		"8.8.8.8 8.8.4.4":      checkWarn, // the engine's fallback for a host with only loopback resolvers
		"2001:4860:4860::8888": checkWarn,
		"":                     checkWarn,
	} {
		if got := dnsCheck(strings.Fields(servers)); got.Status != want || (want == checkWarn && got.Fix == "") {
			t.Errorf("dnsCheck(%q) = %+v, want %s with a fix", servers, got, want)
		}
	}
}
