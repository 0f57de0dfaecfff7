package e2e

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/e2e/lab"
)

// TestSecondLinkLab checks the lab's second segment (lab.Options.SecondLink)
// without daemons: the second client reaches every node's eth1 address and
// none of the first segment's, the first client none of the second's; a
// node left out of SecondLinkNodes has no eth1; an address added on eth1
// is located there by PlacementsOf and HoldersOn and served to the second
// client; Link2Down cuts the node off the segment and Link2Up restores it.
func TestSecondLinkLab(t *testing.T) {
	l := lab.Start(t, lab.Options{Nodes: 3, NoDaemons: true, SecondLink: true, SecondLinkNodes: []int{0, 1}})
	const reach = 10 * time.Second // the HTTP helpers answer in well under a second
	const refused = 300 * time.Millisecond
	for i := range l.Nodes() {
		name := l.NodeName(i)
		v4, v6 := l.NodeAddrs(i)
		for _, a := range []netip.Addr{v4, v6} {
			if who, err := l.ServedOnLink2(a, refused); err == nil {
				t.Errorf("second client reached %s's eth0 address %s (served by %s); want separate segments", name, a, who)
			}
		}
		if !l.HasLink2(i) {
			if i != 2 {
				t.Errorf("%s has no %s; want one", name, lab.SecondInterface)
			}
			if out, err := l.NodeNS(i).Exec("ip", "link", "show", lab.SecondInterface); err == nil {
				t.Errorf("%s, left out of SecondLinkNodes, has %s: %s", name, lab.SecondInterface, out)
			}
			continue
		}
		w4, w6 := l.Link2Addrs(i)
		for _, a := range []netip.Addr{w4, w6} {
			if who := l.WaitServedOnLink2(a, reach); who != name {
				t.Errorf("second client asked %s's %s address %s; served by %q", name, lab.SecondInterface, a, who)
			}
			if who, err := l.ServedBy(a, refused); err == nil {
				t.Errorf("first client reached %s's %s address %s (served by %s); want separate segments", name, lab.SecondInterface, a, who)
			}
		}
	}
	if l.HasLink2(2) {
		t.Errorf("%s has %s; SecondLinkNodes left it out", l.NodeName(2), lab.SecondInterface)
	}

	// An address of each pool on n2's eth1, as a daemon would bind it.
	vips := []netip.Addr{lab.SecondPool4.Addr().Next(), lab.SecondPool6.Addr().Next()}
	const i = 1
	ns, name := l.NodeNS(i), l.NodeName(i)
	for _, a := range vips {
		if err := ns.IP("addr", "add", netip.PrefixFrom(a, a.BitLen()).String(), "dev", lab.SecondInterface); err != nil {
			t.Fatal(err)
		}
	}
	placed, err := l.PlacementsOf(vips)
	if err != nil {
		t.Fatal(err)
	}
	on1, err := l.HoldersOn(vips, lab.SecondInterface)
	if err != nil {
		t.Fatal(err)
	}
	on0, err := l.HoldersOn(vips, "eth0")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range vips {
		want := []lab.Placement{{Node: name, Iface: lab.SecondInterface, Up: true}}
		if !slices.Equal(placed[a], want) {
			t.Errorf("PlacementsOf(%s) = %v; want %v", a, placed[a], want)
		}
		if !slices.Equal(on1[a], []string{name}) || len(on0[a]) != 0 {
			t.Errorf("%s: on %s %v, on eth0 %v; want on %s only on %s", a, lab.SecondInterface, on1[a], on0[a], lab.SecondInterface, name)
		}
		if who := l.WaitServedOnLink2(a, reach); who != name {
			t.Errorf("second client asked %s on %s's %s: served by %q", a, name, lab.SecondInterface, who)
		}
		if n, ok := l.Client2Neigh(a); !ok || n.MAC.String() != l.Link2MAC(i).String() {
			t.Errorf("second client's neighbour entry of %s: %v (found %v); want %s's %s MAC %s", a, n, ok, name, lab.SecondInterface, l.Link2MAC(i))
		}
	}

	// Down: the node is off the segment; its IPv4 address stays, on a
	// down link; the kernel flushes the IPv6 one. Up: its own addresses
	// come back and it serves again.
	l.Link2Down(i)
	w4, w6 := l.Link2Addrs(i)
	if who, err := l.ServedOnLink2(w4, refused); err == nil {
		t.Errorf("%s served %s with its %s down", who, w4, lab.SecondInterface)
	}
	placed, err = l.PlacementsOf(vips)
	if err != nil {
		t.Fatal(err)
	}
	if want := []lab.Placement{{Node: name, Iface: lab.SecondInterface}}; !slices.Equal(placed[vips[0]], want) || len(placed[vips[1]]) != 0 {
		t.Errorf("after Link2Down: %s on %v, %s on %v; want %v and nowhere", vips[0], placed[vips[0]], vips[1], placed[vips[1]], want)
	}
	owners, err := l.OwnersOfAll(vips)
	if err != nil || len(owners) != 0 {
		t.Errorf("after Link2Down: owners (interfaces up) %v, %v; want none", owners, err)
	}
	l.Link2Up(i)
	for _, a := range []netip.Addr{w4, w6} {
		if who := l.WaitServedOnLink2(a, reach); who != name {
			t.Errorf("after Link2Up: %s served by %q; want %s", a, who, name)
		}
	}
	t.Logf("second segment: %s and %s on eth1 of %s and %s, none on %s; located and served on eth1",
		lab.SecondPool4, lab.SecondPool6, l.NodeName(0), l.NodeName(1), l.NodeName(2))
}
