package lab

import (
	"cmp"
	"fmt"
	"net/netip"
)

// Addresses. Documentation ranges only (RFC 5737, RFC 3849); nothing here
// may ever route anywhere else.
var (
	apiAddr4    = netip.MustParseAddr("192.0.2.2")
	apiAddr6    = netip.MustParseAddr("2001:db8::2")
	clientAddr4 = netip.MustParseAddr("192.0.2.50")
	clientAddr6 = netip.MustParseAddr("2001:db8::50")
	// DefaultVIPs are the addresses the daemons keep unless Options.VIPs says
	// otherwise.
	DefaultVIPs = []netip.Addr{
		netip.MustParseAddr("192.0.2.100"),
		netip.MustParseAddr("2001:db8::100"),
	}
	// serviceRange is the API server's --service-cluster-ip-range: dual
	// stack, so that more Services than an IPv4 /24 holds can exist (the
	// scale test's Services are IPv6 single-stack). A Service that names no
	// family stays IPv4 single-stack, as before. ClusterIPs route nowhere:
	// there is no kube-proxy in the lab.
	serviceRange = "198.51.100.0/24,2001:db8:ffff::/112"
	// ServicePool4 is the lab's IPv4 pool for LoadBalancer Services: on the
	// nodes' link (192.0.2.0/24) and clear of every other lab address (API
	// .2, nodes .11–.19, client .50, control-plane VIP .100). The allocator
	// never hands out its network and broadcast addresses, so it holds 62
	// addresses, .129–.190.
	ServicePool4 = netip.MustParsePrefix("192.0.2.128/26")
	// ServicePool6 is the lab's IPv6 pool: 1,024 addresses on the nodes'
	// link (2001:db8::/64), 2001:db8::1:0–2001:db8::1:3ff, clear of the lab's
	// own addresses (::2, ::11–::19, ::50, ::100).
	ServicePool6 = netip.MustParsePrefix("2001:db8::1:0/118")
	// DefaultServicePools are the --services-pool values of a lab in
	// services mode unless Options.ServicePools says otherwise: IPv4 first,
	// so a Service that names no family gets an IPv4 address.
	DefaultServicePools = []string{
		"pool=lab4;addresses=" + ServicePool4.String(),
		"pool=lab6;addresses=" + ServicePool6.String(),
	}
)

const (
	prefix4 = 24
	prefix6 = 64
	// maxNodes keeps node addresses (192.0.2.11 + i) below the client's .50.
	maxNodes = 9
)

func nodeAddr4(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, byte(11 + i)}) }

func nodeAddr6(i int) netip.Addr {
	b := netip.MustParseAddr("2001:db8::").As16()
	b[15] = byte(0x11 + i) // 2001:db8::11, ::12, … — mirrors the IPv4 host part
	return netip.AddrFrom16(b)
}

// port is one namespace plugged into a bridge: br0 through its eth0 unless
// bridge and dev say otherwise (the second segment, link2.go).
type port struct {
	ns     *NS
	peer   string // name of the veth end in the bridge namespace
	addr4  netip.Addr
	addr6  netip.Addr
	sysctl []string // extra sysctls, applied before addresses are added
	bridge string   // default "br0"
	dev    string   // the interface in ns; default "eth0"
	bits4  int      // prefix length of addr4; default prefix4
}

func (p port) bridgeName() string { return cmp.Or(p.bridge, "br0") }
func (p port) devName() string    { return cmp.Or(p.dev, "eth0") }
func (p port) bits() int {
	if p.bits4 == 0 {
		return prefix4
	}
	return p.bits4
}

// clientSysctls make the client's neighbour cache outlive any failover, so
// only gratuitous ARP / unsolicited NA can move it to a new owner's MAC.
var clientSysctls = []string{
	"net.ipv4.neigh.eth0.base_reachable_time_ms=600000",
	"net.ipv4.neigh.eth0.gc_stale_time=3600",
	"net.ipv6.neigh.eth0.base_reachable_time_ms=600000",
	"net.ipv6.neigh.eth0.gc_stale_time=3600",
}

// addBridge creates br0 in its namespace. IPv6 is off in the bridge
// namespace so it adds no noise.
func addBridge(br *NS) error {
	if err := br.Sysctl("net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"); err != nil {
		return err
	}
	return addBridgeNamed(br, "br0")
}

// addBridgeNamed creates one bridge. Snooping is off so solicited-node
// multicast (NDP) is flooded like on a dumb switch; STP is off so ports
// forward at once.
func addBridgeNamed(br *NS, name string) error {
	if err := br.IP("link", "add", name, "type", "bridge", "stp_state", "0", "mcast_snooping", "0"); err != nil {
		return err
	}
	return br.IP("link", "set", name, "up")
}

// plug creates p.dev in p.ns as a veth whose peer is a port of p.bridge.
func plug(br *NS, p port) error {
	dev := p.devName()
	if err := br.IP("link", "add", p.peer, "type", "veth", "peer", "name", dev, "netns", p.ns.Name); err != nil {
		return err
	}
	if err := br.IP("link", "set", p.peer, "master", p.bridgeName(), "up"); err != nil {
		return err
	}
	// DAD off: addresses (and VIPs) are usable the moment they are added.
	kv := append([]string{
		"net.ipv6.conf.all.accept_dad=0",
		"net.ipv6.conf.default.accept_dad=0",
		"net.ipv6.conf." + dev + ".accept_dad=0",
		"net.ipv6.conf." + dev + ".accept_ra=0",
	}, p.sysctl...)
	if err := p.ns.Sysctl(kv...); err != nil {
		return err
	}
	if err := p.ns.IP("link", "set", "lo", "up"); err != nil {
		return err
	}
	if err := addOwnAddrs(p); err != nil {
		return err
	}
	return p.ns.IP("link", "set", dev, "up")
}

// addOwnAddrs (re)adds a namespace's own addresses; `ip link set down`
// flushes IPv6 addresses, so LinkUp calls it again, as a network manager would.
func addOwnAddrs(p port) error {
	dev := p.devName()
	if err := p.ns.IP("addr", "replace", fmt.Sprintf("%s/%d", p.addr4, p.bits()), "dev", dev); err != nil {
		return err
	}
	return p.ns.IP("-6", "addr", "replace", fmt.Sprintf("%s/%d", p.addr6, prefix6), "dev", dev, "nodad")
}
