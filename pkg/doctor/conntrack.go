package doctor

import (
	"fmt"
	"io/fs"
)

// checkIPVS rates the IPVS settings, or says IPVS is not loaded.
func checkIPVS(fsys fs.FS) []Finding {
	if !exists(fsys, "proc/sys/net/ipv4/vs") {
		return []Finding{{
			Check: "ipvs", Setting: "net.ipv4.vs", Current: "not loaded", Recommended: "-",
			Why: "the ip_vs module is not loaded, so sloppy_tcp and conn_reuse_mode do not apply",
		}}
	}
	var out []Finding
	for _, name := range []string{"sloppy_tcp", "conn_reuse_mode"} {
		f, _, _ := judge(fsys, "", mustLookup(name))
		out = append(out, f)
	}
	return out
}

// Conntrack table fill levels. After a failover this node carries the VIP's
// connections on top of its own, so a table three quarters full on a
// standby may overflow when the VIP arrives; at 90% new connections are
// about to be dropped.
const (
	conntrackWarnPercent  = 75
	conntrackErrorPercent = 90
)

// checkConntrack rates the conntrack settings, or says conntrack is not
// loaded (nothing to lose then).
func checkConntrack(fsys fs.FS) []Finding {
	if !exists(fsys, "proc/sys/net/netfilter/nf_conntrack_max") {
		return []Finding{{
			Check: "conntrack", Setting: "net.netfilter.nf_conntrack_*", Current: "not loaded", Recommended: "-", Severity: Info,
			Why: "the nf_conntrack module is not loaded, so there is no connection state to lose; check again if kube-proxy or a firewall loads it later",
		}}
	}
	var out []Finding
	for _, name := range []string{"be_liberal", "tcp_loose"} {
		f, _, _ := judge(fsys, "", mustLookup(name))
		out = append(out, f)
	}
	f, r, ok := judge(fsys, "", mustLookup("timeout_established"))
	if ka, kaOK := keepaliveTimeSeconds(fsys); ok && kaOK && r.value < ka {
		f.Severity = Warning
		f.Why = fmt.Sprintf("shorter than tcp_keepalive_time (%d s): keepalive probes come too late to keep idle connections' entries; ", ka) + f.Why
	}
	out = append(out, f)
	return append(out, checkConntrackFill(fsys))
}

// checkConntrackFill compares nf_conntrack_count with nf_conntrack_max.
func checkConntrackFill(fsys fs.FS) Finding {
	f := Finding{
		Check: "conntrack_max", Setting: "net.netfilter.nf_conntrack_count / nf_conntrack_max",
		Recommended: fmt.Sprintf("count < %d%% of max", conntrackWarnPercent),
		Why:         "a full table drops new connections; after a failover this node carries the VIP's connections too",
	}
	count, err := readValue(fsys, "proc/sys/net/netfilter/nf_conntrack_count")
	if err == nil {
		var limit int64
		limit, err = readValue(fsys, "proc/sys/net/netfilter/nf_conntrack_max")
		if err == nil {
			return rateFill(f, count, limit)
		}
	}
	f.Current, f.Severity = "unreadable", Warning
	f.Why = fmt.Sprintf("could not check: %v", err)
	return f
}

func rateFill(f Finding, count, limit int64) Finding {
	if limit <= 0 { // the kernel treats 0 as no limit
		f.Current = fmt.Sprintf("%d of no limit", count)
		return f
	}
	pct := count * 100 / limit
	f.Current = fmt.Sprintf("%d of %d (%d%%)", count, limit, pct)
	switch {
	case pct >= conntrackErrorPercent:
		f.Severity = Error
	case pct >= conntrackWarnPercent:
		f.Severity = Warning
	}
	return f
}
