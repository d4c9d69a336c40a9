package sticky

import (
	"net/netip"
	"slices"
	"testing"
)

func TestHostsAndBlocks(t *testing.T) {
	p := netip.MustParsePrefix("172.30.0.0/29")
	var got []string
	for a := range Hosts(p) {
		got = append(got, a.String())
	}
	if want := []string{"172.30.0.1", "172.30.0.2", "172.30.0.3", "172.30.0.4", "172.30.0.5", "172.30.0.6"}; !slices.Equal(got, want) {
		t.Errorf("hosts %v", got)
	}
	for a, want := range map[string]bool{"172.30.0.0": false, "172.30.0.7": false, "172.30.0.3": true, "172.30.1.3": false} {
		if IsHost(p, netip.MustParseAddr(a)) != want {
			t.Errorf("IsHost(%s) = %v", a, !want)
		}
	}
	var blocks []string
	for b := range Blocks(netip.MustParsePrefix("10.42.0.0/22"), 24) {
		blocks = append(blocks, b.String())
	}
	if want := []string{"10.42.0.0/24", "10.42.1.0/24", "10.42.2.0/24", "10.42.3.0/24"}; !slices.Equal(blocks, want) {
		t.Errorf("blocks %v", blocks)
	}
}

func TestAssignKeepsWhatIsHeld(t *testing.T) {
	p := netip.MustParsePrefix("172.30.0.0/28")
	gw := netip.MustParseAddr("172.30.0.1")
	have := map[string]netip.Addr{
		"b": netip.MustParseAddr("172.30.0.5"), // kept
		"c": netip.MustParseAddr("172.30.0.5"), // taken by b: a new one
		"d": gw,                                // reserved: a new one
		"e": netip.MustParseAddr("10.0.0.9"),   // not of the subnet
	}
	got, err := Assign([]string{"a", "b", "c", "d", "e"}, have, func(a netip.Addr) bool { return IsHost(p, a) }, map[netip.Addr]bool{gw: true}, Hosts(p))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "172.30.0.2", "b": "172.30.0.5", "c": "172.30.0.3", "d": "172.30.0.4", "e": "172.30.0.6"}
	for name, w := range want {
		if got[name].String() != w {
			t.Errorf("%s got %s, want %s", name, got[name], w)
		}
	}
	if _, err := Assign([]string{"a", "b"}, nil, func(netip.Addr) bool { return true }, nil, Hosts(netip.MustParsePrefix("10.0.0.0/31"))); err == nil {
		t.Error("a subnet without room gave addresses")
	}
}
