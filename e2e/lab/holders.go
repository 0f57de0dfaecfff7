package lab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// dumpRetries bounds the re-reads of an address dump that the kernel
// interrupted (NLM_F_DUMP_INTR: the list changed while it was read, as it
// does while a daemon binds hundreds of addresses). An interrupted dump may
// miss or repeat entries, so it is never used; a few retries always suffice
// unless something rewrites the list without pause.
const dumpRetries = 20

// OwnersOfAll returns, for each of addrs held by some node on an interface
// that is up (administratively, and with carrier), the names of those
// nodes, in node order. It reads each node's address and link lists once,
// however many addresses it is asked about, so polling a thousand
// addresses costs a few netlink dumps. Addresses no node holds are absent
// from the map. Safe to call from any goroutine.
func (l *Lab) OwnersOfAll(addrs []netip.Addr) (map[netip.Addr][]string, error) {
	return l.holdersOfAll(addrs, true)
}

// HoldersOfAll is OwnersOfAll counting every interface, whatever its state:
// a crashed node's IPv4 addresses on a downed link count here.
func (l *Lab) HoldersOfAll(addrs []netip.Addr) (map[netip.Addr][]string, error) {
	return l.holdersOfAll(addrs, false)
}

// OwnersIn is OwnersOfAll for every address in prefix that some node holds
// on an interface that is up: what the nodes serve of a pool, without
// knowing which addresses were allocated.
func (l *Lab) OwnersIn(prefix netip.Prefix) (map[netip.Addr][]string, error) {
	return l.holdersWhere(prefix.Contains, true)
}

func (l *Lab) holdersOfAll(addrs []netip.Addr, onlyUp bool) (map[netip.Addr][]string, error) {
	want := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		want[a] = true
	}
	return l.holdersWhere(func(a netip.Addr) bool { return want[a] }, onlyUp)
}

func (l *Lab) holdersWhere(match func(netip.Addr) bool, onlyUp bool) (map[netip.Addr][]string, error) {
	out := make(map[netip.Addr][]string)
	for _, n := range l.nodes {
		held, err := nodeAddrs(n.ns, onlyUp)
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", n.name, err)
		}
		for a := range held {
			if match(a) {
				out[a] = append(out[a], n.name)
			}
		}
	}
	return out, nil
}

// nodeAddrs is the set of addresses in ns (on interfaces that are up, if
// onlyUp), from one consistent dump.
func nodeAddrs(ns *NS, onlyUp bool) (map[netip.Addr]bool, error) {
	var held map[netip.Addr]bool
	err := ns.withNetlink(func(h *netlink.Handle) error {
		var last error
		for range dumpRetries {
			held, last = dumpAddrs(h, onlyUp)
			if !errors.Is(last, netlink.ErrDumpInterrupted) {
				return last
			}
		}
		return fmt.Errorf("%d dumps in a row interrupted: %w", dumpRetries, last)
	})
	return held, err
}

func dumpAddrs(h *netlink.Handle, onlyUp bool) (map[netip.Addr]bool, error) {
	up := map[int]bool{}
	if onlyUp {
		links, err := h.LinkList()
		if err != nil {
			return nil, err
		}
		for _, link := range links {
			a := link.Attrs()
			up[a.Index] = a.Flags&net.FlagUp != 0 && (a.OperState == netlink.OperUp || a.OperState == netlink.OperUnknown)
		}
	}
	list, err := h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, err
	}
	held := make(map[netip.Addr]bool, len(list))
	for _, a := range list {
		if !onlyUp || up[a.LinkIndex] {
			held[addrOf(a)] = true
		}
	}
	return held, nil
}
