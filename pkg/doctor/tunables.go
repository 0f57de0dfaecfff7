package doctor

import "slices"

// tunable is a sysctl with one recommended value: the checks judge it and
// Apply can write it. Its name is both Finding.Check and the name --apply
// takes.
type tunable struct {
	name string
	key  func(iface string) sysctl // the key read and, by Apply, written
	// maxAll: the kernel uses max(conf.all, conf.<if>), so the effective
	// value reads both and Apply raises only the interface's.
	maxAll      bool
	want        int64 // what Apply writes
	good        func(v int64) bool
	recommended string
	bad         Severity // when not good; a check may raise it
	module      string   // kernel module that provides the key, if any
	why         string
}

func eq(want int64) func(int64) bool        { return func(v int64) bool { return v == want } }
func atLeast(min int64) func(int64) bool    { return func(v int64) bool { return v >= min } }
func between(lo, hi int64) func(int64) bool { return func(v int64) bool { return v >= lo && v <= hi } }

// Recommended TCP keepalive: dead peers found after 600 + 5×60 s = 15 min
// instead of the kernel's 2 h 11 min, and probes every 10 min keep idle
// entries alive in firewalls and NAT devices that forget after 15 min or
// more.
const (
	keepaliveTime   = 600
	keepaliveIntvl  = 60
	keepaliveProbes = 5
)

// establishedTimeout is kube-proxy's default for
// nf_conntrack_tcp_timeout_established (24 h).
const establishedTimeout = 86400

// tunables lists every setting Apply can write, in the order checks report
// them. It is never modified.
var tunables = []tunable{
	{name: "nonlocal_bind", key: global("net", "ipv4", "ip_nonlocal_bind"), want: 1, good: eq(1), recommended: "1", bad: Info,
		why: "lets a service listen on the VIP on every node (HAProxy, nginx) before the VIP moves here; not needed if only the holder binds it"},
	{name: "nonlocal_bind6", key: global("net", "ipv6", "ip_nonlocal_bind"), want: 1, good: eq(1), recommended: "1", bad: Info,
		why: "the same for IPv6 VIPs"},
	{name: "arp_ignore", key: perInterface("ipv4", "arp_ignore"), maxAll: true, want: 1, good: between(1, 3), recommended: "1", bad: Info,
		why: "answer ARP for the VIP only on the interface that holds it; with 0 any interface answers for any local address"},
	{name: "arp_announce", key: perInterface("ipv4", "arp_announce"), maxAll: true, want: 2, good: eq(2), recommended: "2", bad: Info,
		why: "send ARP requests from the interface's own address, never from a VIP or another interface's address, so neighbours do not learn a wrong MAC"},
	{name: "arp_notify", key: perInterface("ipv4", "arp_notify"), maxAll: true, want: 1, good: eq(1), recommended: "1", bad: Info,
		why: "gratuitous ARP when the link comes up or its MAC changes (bond failover); vipkeeper announces the VIP itself on takeover"},
	{name: "sloppy_tcp", key: global("net", "ipv4", "vs", "sloppy_tcp"), want: 1, good: eq(1), recommended: "1", bad: Warning, module: "ip_vs",
		why: "IPVS drops packets of connections it did not see start, so established connections break when the VIP moves here (kube-router DSR/Maglev); node-global, loosens IPVS TCP state checks"},
	{name: "conn_reuse_mode", key: global("net", "ipv4", "vs", "conn_reuse_mode"), want: 1, good: atLeast(1), recommended: "1", bad: Info, module: "ip_vs",
		why: "with 0 a new connection reusing a client port goes to the old entry's backend, even a removed one; 0 is only needed on kernels before 5.9"},
	{name: "be_liberal", key: global("net", "netfilter", "nf_conntrack_tcp_be_liberal"), want: 1, good: eq(1), recommended: "1", bad: Warning, module: "nf_conntrack",
		why: "packets of a connection that moved here mid-stream fall outside the TCP window conntrack expects, are marked INVALID and dropped by kube-proxy; 1 accepts out-of-window packets"},
	{name: "tcp_loose", key: global("net", "netfilter", "nf_conntrack_tcp_loose"), want: 1, good: atLeast(1), recommended: "1", bad: Warning, module: "nf_conntrack",
		why: "lets conntrack pick up a connection it did not see start; with 0 every established connection through the VIP breaks on failover"},
	{name: "timeout_established", key: global("net", "netfilter", "nf_conntrack_tcp_timeout_established"), want: establishedTimeout, good: atLeast(establishedTimeout),
		recommended: ">= 86400", bad: Info, module: "nf_conntrack",
		why: "an idle connection loses its conntrack entry (and NAT mapping) after this many seconds and must be picked up again mid-stream; kube-proxy uses 24 h"},
	{name: "keepalive_time", key: global("net", "ipv4", "tcp_keepalive_time"), want: keepaliveTime, good: between(1, keepaliveTime), recommended: "<= 600", bad: Info,
		why: "idle seconds before TCP probes the peer (sockets with SO_KEEPALIVE); shorter finds connections left dead by a failover sooner and keeps NAT/firewall entries alive"},
	{name: "keepalive_intvl", key: global("net", "ipv4", "tcp_keepalive_intvl"), want: keepaliveIntvl, good: between(1, keepaliveIntvl), recommended: "<= 60", bad: Info,
		why: "seconds between keepalive probes"},
	{name: "keepalive_probes", key: global("net", "ipv4", "tcp_keepalive_probes"), want: keepaliveProbes, good: between(1, keepaliveProbes), recommended: "<= 5", bad: Info,
		why: "unanswered probes before the connection is declared dead: time + probes × intvl is how long a dead peer goes unnoticed"},
}

// lookup returns the tunable with that name.
func lookup(name string) (tunable, bool) {
	i := slices.IndexFunc(tunables, func(t tunable) bool { return t.name == name })
	if i < 0 {
		return tunable{}, false
	}
	return tunables[i], true
}

// mustLookup is for names written in this package.
func mustLookup(name string) tunable {
	t, ok := lookup(name)
	if !ok {
		panic("doctor: no tunable " + name)
	}
	return t
}

// Settings returns the names Apply accepts, in report order.
func Settings() []string {
	names := make([]string, len(tunables))
	for i, t := range tunables {
		names[i] = t.name
	}
	return names
}
