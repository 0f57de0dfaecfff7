package ether

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// macLen is the length of an Ethernet (EUI-48) address, the only kind ARP
// and NDP link-layer options carry here.
const macLen = 6

// ErrNoHardwareAddr is returned (wrapped) by Link for links without an
// Ethernet address (tun, WireGuard, ...), where ARP and NDP link-layer
// addresses make no sense.
var ErrNoHardwareAddr = errors.New("interface has no 6-byte hardware address")

// ZeroMAC is the target hardware address of an ARP Probe and of an ARP
// Announcement in request form: RFC 5227 §2.1.1 and §2.3 say the field "is
// ignored and SHOULD be set to all zeroes". Callers must not modify it.
var ZeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

// Lookup finds an interface by name; net.InterfaceByName in production.
type Lookup func(name string) (*net.Interface, error)

// Link looks name up and checks that it has a 6-byte hardware address.
// Errors name the interface; a link without one wraps ErrNoHardwareAddr.
func Link(lookup Lookup, name string) (*net.Interface, error) {
	ifi, err := lookup(name)
	if err != nil {
		return nil, fmt.Errorf("look up interface %q: %w", name, err)
	}
	if len(ifi.HardwareAddr) != macLen {
		return nil, fmt.Errorf("interface %q: %w", name, ErrNoHardwareAddr)
	}
	return ifi, nil
}

// Same reports whether a and b are the same link with the same MAC. A link
// deleted and created again gets a new index; sockets bound to the old one
// then neither read nor write, and frames built with an old MAC claim the
// wrong address. nil is never the same as anything.
func Same(a, b *net.Interface) bool {
	return a != nil && b != nil && a.Index == b.Index && bytes.Equal(a.HardwareAddr, b.HardwareAddr)
}

// Canonical is the form of ip in an address set: IPv4-mapped IPv6
// addresses become IPv4, and the zone is dropped.
func Canonical(ip netip.Addr) netip.Addr {
	return ip.Unmap().WithZone("")
}

// Normalize returns the canonical form of addrs without duplicates, in
// their first order, and separately, in canonical form, those that can
// neither be announced nor guarded: invalid, unspecified and multicast
// addresses. The caller logs the ignored ones.
func Normalize(addrs []netip.Addr) (set, ignored []netip.Addr) {
	set = make([]netip.Addr, 0, len(addrs))
	seen := make(map[netip.Addr]struct{}, len(addrs))
	for _, ip := range addrs {
		ip = Canonical(ip)
		if !ip.IsValid() || ip.IsUnspecified() || ip.IsMulticast() {
			ignored = append(ignored, ip)
			continue
		}
		if _, dup := seen[ip]; !dup {
			seen[ip] = struct{}{}
			set = append(set, ip)
		}
	}
	return set, ignored
}
