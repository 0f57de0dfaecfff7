package vip

import (
	"net/netip"

	"github.com/vishvananda/netns"
)

// ForeignAddrs returns the addresses of the interface named ifname that
// vipkeeper did not add (they lack the [Protocol] marker), each with its
// subnet's prefix length. Start-up checks use them: a VIP must not be one
// of them, nor their subnet's network or broadcast address. Addresses with
// the marker are a previous run's leftovers, which Start removes, so they
// are left out. A missing interface yields ErrInterfaceNotFound.
func ForeignAddrs(ifname string) ([]netip.Prefix, error) {
	return foreignAddrs(kernel{ns: netns.None()}, ifname)
}

func foreignAddrs(nl netlinker, ifname string) ([]netip.Prefix, error) {
	_, addrs, err := nl.AddrList(ifname)
	if err != nil {
		return nil, err
	}
	var out []netip.Prefix
	for _, a := range addrs {
		if a.Proto != Protocol {
			out = append(out, a.Prefix)
		}
	}
	return out, nil
}
