package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipkeeper/vipkeeper/e2e/instruments"
	"github.com/vishvananda/netlink"
)

// The second segment (Options.SecondLink): a bridge br1 beside br0 in the
// bridge namespace, an interface SecondInterface in the chosen nodes
// plugged into it, and a second client namespace (vk-<id>-cl2) on it
// alone. The segment's addresses are all in 203.0.113.128/25 and
// 2001:db8:1::/64; nothing else in the lab uses them: 192.0.2.0/24 and
// 2001:db8::/64 are the first segment's, 198.51.100.0/24 and
// 2001:db8:ffff::/112 the API server's service range, and SetEndpoints
// writes 203.0.113.10–.127 (EndpointSlice objects only, bound nowhere).

// SecondInterface is the second segment's interface in a node.
const SecondInterface = "eth1"

// AnnotationLinksDown is the node Lease annotation in which a daemon
// publishes the pool interfaces that are down or missing on its node
// (comma-separated; absent or empty when all are up).
const AnnotationLinksDown = "vipkeeper.io/links-down"

var (
	// SecondPool4 is an IPv4 pool on the second segment: .224–.255 of its
	// 203.0.113.128/25, above the nodes' .131–.139 and the client's .180.
	// The allocator skips the network and broadcast addresses (.224 and
	// .255), so it hands out .225–.254.
	SecondPool4 = netip.MustParsePrefix("203.0.113.224/27")
	// SecondPool6 is an IPv6 pool on the second segment:
	// 2001:db8:1::1:0–2001:db8:1::1:ff, clear of the nodes' ::11–::19
	// and the client's ::50 on 2001:db8:1::/64.
	SecondPool6 = netip.MustParsePrefix("2001:db8:1::1:0/120")

	// client2Addr4 and client2Addr6 are the second client's: between the
	// nodes (.131–.139, ::11–::19) and the pools (.224/27, ::1:0/120).
	client2Addr4 = netip.MustParseAddr("203.0.113.180")
	client2Addr6 = netip.MustParseAddr("2001:db8:1::50")
)

// link2Bits4 is the second segment's IPv4 prefix length: 203.0.113.128/25,
// the upper half of 203.0.113.0/24 (the lower half is SetEndpoints').
const link2Bits4 = 25

// node2Addr4 is node i's address on the second segment: 203.0.113.131 + i
// (.131–.139 for maxNodes), mirroring the first segment's .11 + i.
func node2Addr4(i int) netip.Addr { return netip.AddrFrom4([4]byte{203, 0, 113, byte(131 + i)}) }

// node2Addr6 is node i's IPv6 address on the second segment:
// 2001:db8:1::11 + i, mirroring the first segment's 2001:db8::11 + i.
func node2Addr6(i int) netip.Addr {
	b := netip.MustParseAddr("2001:db8:1::").As16()
	b[15] = byte(0x11 + i)
	return netip.AddrFrom16(b)
}

// hasLink2 reports whether node i gets SecondInterface.
func (o *Options) hasLink2(i int) bool {
	return o.SecondLink && (o.SecondLinkNodes == nil || slices.Contains(o.SecondLinkNodes, i))
}

// checkLink2 validates the second segment's options.
func (o *Options) checkLink2() error {
	if !o.SecondLink && o.SecondLinkNodes != nil {
		return fmt.Errorf("SecondLinkNodes needs SecondLink")
	}
	for _, i := range o.SecondLinkNodes {
		if i < 0 || i >= o.Nodes {
			return fmt.Errorf("SecondLinkNodes: node %d not in 0..%d", i, o.Nodes-1)
		}
	}
	return nil
}

// link2Port is node i's port on the second segment. Its peer in the
// bridge namespace is "<node>-l2", at most 5 characters of the 15 an
// interface name may have.
func link2Port(ns *NS, i int, name string) port {
	return port{ns: ns, peer: name + "-l2", addr4: node2Addr4(i), addr6: node2Addr6(i),
		bridge: "br1", dev: SecondInterface, bits4: link2Bits4}
}

// upLink2 creates br1 and the second client. The nodes' ports are
// plugged by addNode.
func (l *Lab) upLink2() error {
	if err := addBridgeNamed(l.br, "br1"); err != nil {
		return err
	}
	var err error
	if l.client2, err = l.newNS("cl2"); err != nil {
		return err
	}
	return plug(l.br, port{ns: l.client2, peer: "cl2", addr4: client2Addr4, addr6: client2Addr6,
		sysctl: clientSysctls, bridge: "br1", bits4: link2Bits4})
}

// HasLink2 reports whether node i has SecondInterface.
func (l *Lab) HasLink2(i int) bool { return l.nodes[i].port2 != nil }

// Link2Addrs are node i's own addresses on SecondInterface.
func (l *Lab) Link2Addrs(i int) (v4, v6 netip.Addr) {
	l.t.Helper()
	p := l.link2(i, "Link2Addrs")
	return p.addr4, p.addr6
}

// Client2NS is the second client's namespace (nil without SecondLink).
func (l *Lab) Client2NS() *NS { return l.client2 }

func (l *Lab) link2(i int, what string) *port {
	l.t.Helper()
	p := l.nodes[i].port2
	if p == nil {
		l.t.Fatalf("%s(%d): %s has no %s (Options.SecondLink, SecondLinkNodes)", what, i, l.nodes[i].name, SecondInterface)
	}
	return p
}

// Link2Down sets node i's SecondInterface administratively down. The
// kernel keeps its IPv4 addresses but flushes the IPv6 ones.
func (l *Lab) Link2Down(i int) {
	l.t.Helper()
	p := l.link2(i, "Link2Down")
	if err := p.ns.IP("link", "set", SecondInterface, "down"); err != nil {
		l.t.Fatalf("Link2Down(%d): %v", i, err)
	}
}

// Link2Up sets node i's SecondInterface up again and restores the node's
// own addresses on it, as LinkUp does for eth0.
func (l *Lab) Link2Up(i int) {
	l.t.Helper()
	p := l.link2(i, "Link2Up")
	if err := p.ns.IP("link", "set", SecondInterface, "up"); err != nil {
		l.t.Fatalf("Link2Up(%d): %v", i, err)
	}
	if err := addOwnAddrs(*p); err != nil {
		l.t.Fatalf("Link2Up(%d): %v", i, err)
	}
}

// Link2MAC is the hardware address of node i's SecondInterface.
func (l *Lab) Link2MAC(i int) net.HardwareAddr {
	l.t.Helper()
	p := l.link2(i, "Link2MAC")
	mac, err := linkMAC(p.ns, SecondInterface)
	if err != nil {
		l.t.Fatalf("Link2MAC(%d): %v", i, err)
	}
	return mac
}

// Client2Neigh is ClientNeigh for the second client.
func (l *Lab) Client2Neigh(addr netip.Addr) (Neigh, bool) {
	l.t.Helper()
	n, ok, err := neighOf(l.client2, addr)
	if err != nil {
		l.t.Fatalf("Client2Neigh(%s): %v", addr, err)
	}
	return n, ok
}

// ServedOnLink2 asks addr (port Port) from the second client who serves
// it, on a fresh connection. Safe to call from any goroutine.
func (l *Lab) ServedOnLink2(addr netip.Addr, timeout time.Duration) (string, error) {
	if l.client2 == nil {
		return "", fmt.Errorf("no second segment (Options.SecondLink)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return instruments.HTTPGet(ctx, l.client2.DialContext, l.Target(addr))
}

// WaitServedOnLink2 waits until the second client gets an answer from
// addr and returns who answered.
func (l *Lab) WaitServedOnLink2(addr netip.Addr, timeout time.Duration) string {
	l.t.Helper()
	var last error
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		who, err := l.ServedOnLink2(addr, 200*time.Millisecond)
		if err == nil {
			return who
		}
		last = err
	}
	l.t.Fatalf("WaitServedOnLink2(%s): second client not served after %v: %v", addr, timeout, last)
	return ""
}

// NodeLease reads node's node Lease (NodeLeasePrefix + node) in the
// services namespace.
func (l *Lab) NodeLease(node string) (*coordinationv1.Lease, error) {
	ctx, cancel := apiCtx()
	defer cancel()
	return l.admin.CoordinationV1().Leases(l.ServicesNamespace()).Get(ctx, NodeLeasePrefix+node, metav1.GetOptions{})
}

// LinksDown is the AnnotationLinksDown annotation of node's node Lease
// ("" when absent) and the Lease's holder.
func (l *Lab) LinksDown(node string) (down, holder string, err error) {
	lease, err := l.NodeLease(node)
	if err != nil {
		return "", "", err
	}
	if lease.Spec.HolderIdentity != nil {
		holder = *lease.Spec.HolderIdentity
	}
	return lease.Annotations[AnnotationLinksDown], holder, nil
}

// linkMAC is the hardware address of interface name in ns.
func linkMAC(ns *NS, name string) (net.HardwareAddr, error) {
	var mac net.HardwareAddr
	err := ns.withNetlink(func(h *netlink.Handle) error {
		link, err := h.LinkByName(name)
		if err != nil {
			return err
		}
		mac = link.Attrs().HardwareAddr
		return nil
	})
	return mac, err
}
