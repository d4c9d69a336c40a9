package dind

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/docker-rke/docker-rke/internal/sticky"
)

// nodeAddresses gives each node container its fixed IPv4 address on the
// cluster network: the address it has, if it is in the subnet and no
// other node holds it, else the lowest free one, never the subnet's own
// address, its gateway or its broadcast address. Fixed addresses make a
// cluster survive its nodes restarting (the engine would otherwise hand a
// restarted node whatever address is free): the routes between nodes'
// pods, the API server certificates and the kubeconfig all name node
// addresses. Like the pod blocks, they are chosen here rather than by the
// engine, and kept.
func nodeAddresses(subnet, gateway string, have map[string]string, containers []string) (map[string]string, error) {
	prefix, err := netip.ParsePrefix(subnet)
	if err != nil {
		return nil, fmt.Errorf("network subnet %q: %w", subnet, err)
	}
	prefix = prefix.Masked()
	if !prefix.Addr().Is4() || prefix.Bits() > 30 {
		return nil, fmt.Errorf("network subnet %s: docker rke needs an IPv4 subnet of at least 4 addresses", prefix)
	}
	gw, err := netip.ParseAddr(gateway)
	if err != nil {
		gw = prefix.Addr().Next() // the engine's default gateway
	}
	held := map[string]netip.Addr{}
	for name, a := range have {
		if addr, err := netip.ParseAddr(a); err == nil {
			held[name] = addr
		}
	}
	got, err := sticky.Assign(containers, held, func(a netip.Addr) bool { return sticky.IsHost(prefix, a) }, map[netip.Addr]bool{gw: true}, sticky.Hosts(prefix))
	var full *sticky.FullError
	if errors.As(err, &full) {
		return nil, fmt.Errorf("network subnet %s has no free address for node container %s", prefix, full.Name)
	}
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for name, a := range got {
		out[name] = a.String()
	}
	return out, nil
}
