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

// Placement is one interface of one node on which an address is bound.
type Placement struct {
	Node  string
	Iface string
	Up    bool // the interface is administratively up and has carrier
}

func (p Placement) String() string {
	s := p.Node + "/" + p.Iface
	if !p.Up {
		s += "(down)"
	}
	return s
}

// PlacementsOf returns, for each of addrs some node holds, on which
// interface of which node it is bound, whatever the interface's state, in
// node order. Addresses no node holds are absent from the map. Safe to
// call from any goroutine.
func (l *Lab) PlacementsOf(addrs []netip.Addr) (map[netip.Addr][]Placement, error) {
	want := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		want[a] = true
	}
	out := make(map[netip.Addr][]Placement)
	for _, n := range l.nodes {
		bound, err := nodeBound(n.ns, true)
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", n.name, err)
		}
		for _, b := range bound {
			if want[b.addr] {
				out[b.addr] = append(out[b.addr], Placement{Node: n.name, Iface: b.iface, Up: b.up})
			}
		}
	}
	return out, nil
}

// HoldersOn is HoldersOfAll counting only interface iface (whatever its
// state): the nodes that hold each of addrs there.
func (l *Lab) HoldersOn(addrs []netip.Addr, iface string) (map[netip.Addr][]string, error) {
	placed, err := l.PlacementsOf(addrs)
	if err != nil {
		return nil, err
	}
	out := make(map[netip.Addr][]string)
	for a, ps := range placed {
		for _, p := range ps {
			if p.Iface == iface {
				out[a] = append(out[a], p.Node)
			}
		}
	}
	return out, nil
}

// nodeAddrs is the set of addresses in ns (on interfaces that are up, if
// onlyUp), from one consistent dump.
func nodeAddrs(ns *NS, onlyUp bool) (map[netip.Addr]bool, error) {
	bound, err := nodeBound(ns, onlyUp)
	if err != nil {
		return nil, err
	}
	held := make(map[netip.Addr]bool, len(bound))
	for _, b := range bound {
		if !onlyUp || b.up {
			held[b.addr] = true
		}
	}
	return held, nil
}

// bound is one address of a namespace; iface and up are set only when the
// dump read the links.
type bound struct {
	addr  netip.Addr
	iface string
	up    bool
}

// nodeBound is every address in ns, from one consistent dump, with its
// interface's name and state if withLinks.
func nodeBound(ns *NS, withLinks bool) ([]bound, error) {
	var out []bound
	err := ns.withNetlink(func(h *netlink.Handle) error {
		var last error
		for range dumpRetries {
			out, last = dumpAddrs(h, withLinks)
			if !errors.Is(last, netlink.ErrDumpInterrupted) {
				return last
			}
		}
		return fmt.Errorf("%d dumps in a row interrupted: %w", dumpRetries, last)
	})
	return out, err
}

func dumpAddrs(h *netlink.Handle, withLinks bool) ([]bound, error) {
	type linkInfo struct {
		name string
		up   bool
	}
	links := map[int]linkInfo{}
	if withLinks {
		list, err := h.LinkList()
		if err != nil {
			return nil, err
		}
		for _, link := range list {
			a := link.Attrs()
			links[a.Index] = linkInfo{a.Name, a.Flags&net.FlagUp != 0 && (a.OperState == netlink.OperUp || a.OperState == netlink.OperUnknown)}
		}
	}
	list, err := h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, err
	}
	out := make([]bound, 0, len(list))
	for _, a := range list {
		li := links[a.LinkIndex]
		out = append(out, bound{addr: addrOf(a), iface: li.name, up: li.up})
	}
	return out, nil
}
