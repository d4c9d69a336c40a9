// Package sticky hands out addresses and address blocks that stay with
// what holds them: a cluster's node addresses and its nodes' pod blocks,
// kept for a node's life, since routes, certificates and kubeconfigs name
// them.
package sticky

import (
	"iter"
	"net"
	"net/netip"

	utilnet "k8s.io/utils/net"
)

// Assign gives each name, in order, the value it holds (have) if ok says
// it is one to give and no name before took it, else the first value of
// candidates that is neither taken nor reserved.
func Assign[V comparable](names []string, have map[string]V, ok func(V) bool, reserved map[V]bool, candidates iter.Seq[V]) (map[string]V, error) {
	taken := map[V]bool{}
	out := map[string]V{}
	for _, name := range names {
		if v, held := have[name]; held && ok(v) && !reserved[v] && !taken[v] {
			out[name] = v
			taken[v] = true
		}
	}
	next, stop := iter.Pull(candidates)
	defer stop()
	for _, name := range names {
		if _, done := out[name]; done {
			continue
		}
		for {
			v, more := next()
			if !more {
				return nil, &FullError{Name: name}
			}
			if !reserved[v] && !taken[v] {
				out[name] = v
				taken[v] = true
				break
			}
		}
	}
	return out, nil
}

// FullError says which name was left without a value: every candidate
// was taken.
type FullError struct{ Name string }

func (e *FullError) Error() string { return "none free for " + e.Name }

// Hosts yields an IPv4 prefix's addresses, in order, without the
// prefix's own (network) and last (broadcast) addresses.
func Hosts(p netip.Prefix) iter.Seq[netip.Addr] {
	return func(yield func(netip.Addr) bool) {
		n := ipNet(p)
		for i := int64(1); i < utilnet.RangeSize(n)-1; i++ {
			ip, err := utilnet.GetIndexedIP(n, int(i))
			if err != nil || !yield(addr(ip)) {
				return
			}
		}
	}
}

// IsHost says whether a is one of Hosts(p).
func IsHost(p netip.Prefix, a netip.Addr) bool {
	if !p.Contains(a) || a == p.Masked().Addr() {
		return false
	}
	n := ipNet(p)
	last, err := utilnet.GetIndexedIP(n, int(utilnet.RangeSize(n)-1))
	return err == nil && a != addr(last)
}

// Blocks yields the prefixes of length bits that p is made of, in order.
func Blocks(p netip.Prefix, bits int) iter.Seq[netip.Prefix] {
	return func(yield func(netip.Prefix) bool) {
		if bits < p.Bits() || bits > p.Addr().BitLen() {
			return
		}
		n := ipNet(p)
		size := int64(1) << (p.Addr().BitLen() - bits)
		for i := int64(0); i < utilnet.RangeSize(n)/size; i++ {
			ip, err := utilnet.GetIndexedIP(n, int(i*size))
			if err != nil || !yield(netip.PrefixFrom(addr(ip), bits)) {
				return
			}
		}
	}
}

func ipNet(p netip.Prefix) *net.IPNet {
	p = p.Masked()
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func addr(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}
