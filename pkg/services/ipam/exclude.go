package ipam

import (
	"fmt"
	"net/netip"
	"slices"
)

// Exclusion is a block of addresses the allocator never hands out, and
// why. A pool that holds it stays valid: only the excluded addresses are
// skipped.
type Exclusion struct {
	Prefix netip.Prefix
	// Why completes "… is not handed out: it is …", e.g. "an address of
	// this node on eth0 (192.0.2.10/24)"; fit for a Warning Event.
	Why string
}

// PoolExclusion is an Exclusion that takes addresses out of a pool.
type PoolExclusion struct {
	Pool string
	Exclusion
}

// alwaysExcluded are taken out of every pool that holds them. The blocks
// that can never be a LoadBalancer address at all are refused instead
// (reserved in pool.go).
var alwaysExcluded = []Exclusion{
	// ::/96 less :: and ::1 (reserved): RFC 4291 §2.5.5.1 deprecates these
	// "IPv4-compatible" addresses, and stacks that still know them route
	// them as IPv4 over an automatic tunnel instead of answering on the
	// link.
	{netip.MustParsePrefix("::/96"), "an IPv4-compatible IPv6 address (::/96, deprecated by RFC 4291), which some stacks send over IPv4"},
}

// HostExclusions returns what the addresses a node already carries rule
// out, as VIPs and as Service addresses: each address itself (it would be
// "held" on every node that has it), the network and broadcast addresses
// of each connected IPv4 subnet shorter than /31 (hosts on the segment
// read them as the subnet and as broadcast), and the subnet-router anycast
// address (RFC 4291 §2.6.1) of each connected IPv6 subnet shorter than
// /127, which every router on the link answers.
//
// addrs are the interface's addresses with their subnets' lengths, as
// `ip address` shows them (192.0.2.10/24). The caller leaves out the
// addresses vipkeeper added itself (their IFA_PROTO marker says so: a
// crashed run's leftovers, removed at start-up) and those of kube-ipvs0,
// where kube-proxy in IPVS mode puts every Service address on every node.
func HostExclusions(iface string, addrs []netip.Prefix) []Exclusion {
	var out []Exclusion
	for _, p := range addrs {
		a := p.Addr().Unmap().WithZone("")
		if !a.IsValid() || a.IsLinkLocalUnicast() || a.IsLoopback() {
			continue // never a VIP or a pool address anyway
		}
		out = append(out, Exclusion{netip.PrefixFrom(a, a.BitLen()),
			fmt.Sprintf("an address of this node on %s (%s)", iface, netip.PrefixFrom(a, p.Bits()))})
		subnet := netip.PrefixFrom(a, p.Bits()).Masked()
		switch {
		case a.Is4() && p.Bits() < 31:
			out = append(out,
				Exclusion{netip.PrefixFrom(subnet.Addr(), 32), fmt.Sprintf("the network address of %s, connected on %s", subnet, iface)},
				Exclusion{netip.PrefixFrom(lastOf(subnet), 32), fmt.Sprintf("the broadcast address of %s, connected on %s", subnet, iface)})
		case a.Is6() && p.Bits() < 127:
			out = append(out, Exclusion{netip.PrefixFrom(subnet.Addr(), 128),
				fmt.Sprintf("the subnet-router anycast address of %s, connected on %s", subnet, iface)})
		}
	}
	// One entry per address: the first reason wins (an address of the node
	// is said before a subnet's role of the same address on another link).
	slices.SortStableFunc(out, func(x, y Exclusion) int { return x.Prefix.Addr().Compare(y.Prefix.Addr()) })
	return slices.CompactFunc(out, func(x, y Exclusion) bool { return x.Prefix == y.Prefix })
}

// Unusable says why a can never be a VIP or a Service address whatever the
// node: it is in a reserved block (loopback, link-local, multicast, …) or
// always excluded (IPv4-compatible IPv6), zoned or IPv4-mapped. ok is
// false for a usable address.
func Unusable(a netip.Addr) (why string, ok bool) {
	switch {
	case !a.IsValid():
		return "not an IP address", true
	case a.Zone() != "":
		return "a zoned address", true
	case a.Is4In6():
		return "an IPv4-mapped IPv6 address (write the IPv4 address)", true
	}
	for _, r := range reserved {
		if r.prefix.Contains(a) {
			return fmt.Sprintf("in the %s block %s", r.what, r.prefix), true
		}
	}
	for _, x := range alwaysExcluded {
		if x.Prefix.Contains(a) {
			return x.Why, true
		}
	}
	return "", false
}

// exclusionsFor returns the exclusions that take addresses out of r, in
// address order, whole prefixes kept (lowest clips them to the range).
func exclusionsFor(r Range, excl []Exclusion) []Exclusion {
	var out []Exclusion
	for _, x := range excl {
		if x.Prefix.Addr().Is4() != r.First.Is4() {
			continue
		}
		if x.Prefix.Contains(r.First) || r.Contains(x.Prefix.Addr()) {
			out = append(out, x)
		}
	}
	slices.SortFunc(out, func(x, y Exclusion) int { return x.Prefix.Addr().Compare(y.Prefix.Addr()) })
	return out
}

// Exclusions lists, pool by pool in configuration order, the exclusions
// that take addresses out of each pool: what a Warning should name.
func (a *Allocator) Exclusions() []PoolExclusion {
	var out []PoolExclusion
	for _, p := range a.pools {
		seen := map[netip.Prefix]bool{}
		for _, s := range p.spans {
			for _, x := range s.excl {
				if !seen[x.Prefix] {
					seen[x.Prefix] = true
					out = append(out, PoolExclusion{Pool: p.name, Exclusion: x})
				}
			}
		}
	}
	return out
}

// Excluded reports whether x is excluded from allocation, and why. A
// Service may still hold it (Restore keeps what a Service holds), which is
// worth a Warning.
func (a *Allocator) Excluded(x netip.Addr) (why string, ok bool) {
	if _, s := a.locate(x); s != nil {
		if e, ok := s.excluded(x); ok {
			return e.Why, true
		}
	}
	return "", false
}
