package doctor

import (
	"io/fs"
	"strconv"
)

// checkBind rates ip_nonlocal_bind for IPv4 and, when the node has IPv6,
// IPv6.
func checkBind(fsys fs.FS) []Finding {
	f, _, _ := judge(fsys, "", mustLookup("nonlocal_bind"))
	out := []Finding{f}
	if hasIPv6(fsys) {
		f, _, _ := judge(fsys, "", mustLookup("nonlocal_bind6"))
		out = append(out, f)
	}
	return out
}

// kubeIPVSDevice is the dummy interface kube-proxy in IPVS mode puts every
// Service and LoadBalancer IP on.
const kubeIPVSDevice = "kube-ipvs0"

// arpIgnoreNever is arp_ignore 8: never answer ARP.
const arpIgnoreNever = 8

// checkARP rates the ARP settings of iface, taking conf.all into account as
// the kernel does.
func checkARP(fsys fs.FS, iface string) []Finding {
	ipvsDev := exists(fsys, "sys/class/net/"+kubeIPVSDevice)
	var out []Finding
	for _, name := range []string{"arp_ignore", "arp_announce", "arp_notify"} {
		f, r, ok := judge(fsys, iface, mustLookup(name))
		switch {
		case !ok:
		case name == "arp_ignore" && r.value == arpIgnoreNever:
			f.Severity = Error
			f.Why = "8 means never answer ARP: neighbours cannot find the VIP once their caches expire"
		case ipvsDev && f.Severity == Info && name != "arp_notify":
			f.Severity = Warning
			f.Why += "; " + kubeIPVSDevice + " holds every LoadBalancer IP on this node, so without it every node answers for them"
		}
		out = append(out, f)
	}
	return append(out, checkARPAccept(fsys, iface))
}

// checkARPAccept shows arp_accept. Neither value is wrong for a VIP, so the
// finding is always OK; it is listed because operators ask about it.
func checkARPAccept(fsys fs.FS, iface string) Finding {
	t := tunable{
		name: "arp_accept", key: perInterface("ipv4", "arp_accept"), maxAll: true,
		good: func(int64) bool { return true }, recommended: "0 or 1",
		why: "only decides whether gratuitous ARP creates new neighbour entries here; entries that exist are updated on takeover either way",
	}
	f, _, _ := judge(fsys, iface, t)
	return f
}

// checkKeepalive rates the TCP keepalive timers.
func checkKeepalive(fsys fs.FS) []Finding {
	var out []Finding
	for _, name := range []string{"keepalive_time", "keepalive_intvl", "keepalive_probes"} {
		f, _, _ := judge(fsys, "", mustLookup(name))
		out = append(out, f)
	}
	return out
}

// keepaliveTimeSeconds returns tcp_keepalive_time, or false.
func keepaliveTimeSeconds(fsys fs.FS) (int64, bool) {
	v, err := readValue(fsys, mustLookup("keepalive_time").key("").path())
	return v, err == nil
}

func hasIPv6(fsys fs.FS) bool { return exists(fsys, "proc/sys/net/ipv6") }

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
