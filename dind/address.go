package dind

import (
	"fmt"
	"net/netip"
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
	used := map[netip.Addr]bool{prefix.Addr(): true, broadcast(prefix): true}
	if gw, err := netip.ParseAddr(gateway); err == nil {
		used[gw] = true
	} else {
		used[prefix.Addr().Next()] = true // the engine's default gateway
	}
	out := map[string]string{}
	for _, name := range containers {
		if a, err := netip.ParseAddr(have[name]); err == nil && prefix.Contains(a) && !used[a] {
			out[name] = a.String()
			used[a] = true
		}
	}
	next := prefix.Addr()
	for _, name := range containers {
		if out[name] != "" {
			continue
		}
		for used[next] {
			next = next.Next()
		}
		if !prefix.Contains(next) {
			return nil, fmt.Errorf("network subnet %s has no free address for node container %s", prefix, name)
		}
		out[name] = next.String()
		used[next] = true
	}
	return out, nil
}

// broadcast is the last address of an IPv4 prefix.
func broadcast(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= uint32(1)<<(32-p.Bits()) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
