package doctor

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// notOK maps the setting of every finding that is not OK to its severity.
func notOK(findings []Finding) map[string]Severity {
	m := map[string]Severity{}
	for _, f := range findings {
		if f.Severity != OK {
			m[f.Setting] = f.Severity
		}
	}
	return m
}

// The kernel defaults every profile but "good" starts from.
var defaultInfos = map[string]Severity{
	"net.ipv4.ip_nonlocal_bind":       Info,
	"net.ipv6.ip_nonlocal_bind":       Info,
	"net.ipv4.conf.eth0.arp_ignore":   Info,
	"net.ipv4.conf.eth0.arp_announce": Info,
	"net.ipv4.conf.eth0.arp_notify":   Info,
	"net.ipv4.tcp_keepalive_time":     Info,
	"net.ipv4.tcp_keepalive_intvl":    Info,
	"net.ipv4.tcp_keepalive_probes":   Info,
}

func with(base map[string]Severity, kv map[string]Severity) map[string]Severity {
	m := map[string]Severity{}
	for k, v := range base {
		m[k] = v
	}
	for k, v := range kv {
		if v == OK {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

func TestCheckProfiles(t *testing.T) {
	for _, tc := range []struct {
		profile string
		want    map[string]Severity
		worst   Severity
		count   int
	}{
		{profile: profileGood, want: map[string]Severity{}, worst: OK, count: 22},
		{profile: profileIPVSNoSloppy, worst: Warning, count: 22, want: with(defaultInfos, map[string]Severity{
			"net.ipv4.conf.eth0.arp_ignore":             Warning, // kube-ipvs0 is there
			"net.ipv4.conf.eth0.arp_announce":           Warning,
			"net.ipv4.vs.sloppy_tcp":                    Warning,
			"net.netfilter.nf_conntrack_tcp_be_liberal": Warning,
		})},
		{profile: profileConntrackStrict, worst: Warning, count: 21, want: with(defaultInfos, map[string]Severity{
			"net.netfilter.nf_conntrack_tcp_be_liberal":           Warning,
			"net.netfilter.nf_conntrack_tcp_loose":                Warning,
			"net.netfilter.nf_conntrack_tcp_timeout_established":  Warning, // below tcp_keepalive_time
			"net.netfilter.nf_conntrack_count / nf_conntrack_max": Warning,
		})},
		{profile: profileInterfaceDown, worst: Error, count: 19, want: with(defaultInfos, map[string]Severity{
			"/sys/class/net/eth0/flags":                 Error,
			"net.netfilter.nf_conntrack_tcp_be_liberal": Warning,
		})},
		{profile: profileNoConntrack, worst: Info, count: 15, want: with(defaultInfos, map[string]Severity{
			"net.ipv6.ip_nonlocal_bind":    OK, // not checked without IPv6
			"net.ipv6":                     Info,
			"net.netfilter.nf_conntrack_*": Info,
		})},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			got := Check(context.Background(), Options{Root: profileRoot(tc.profile), Interface: "eth0"})
			if diff := cmp.Diff(tc.want, notOK(got)); diff != "" {
				t.Errorf("findings that are not ok (-want +got):\n%s", diff)
			}
			if w := Worst(got); w != tc.worst {
				t.Errorf("Worst = %v, want %v", w, tc.worst)
			}
			if len(got) != tc.count {
				t.Errorf("got %d findings, want %d", len(got), tc.count)
			}
		})
	}
}

// TestCheckEdges changes single files of the good profile.
func TestCheckEdges(t *testing.T) {
	for _, tc := range []struct {
		name    string
		iface   string
		files   map[string]string // "" deletes the file
		setting string
		want    Finding
	}{
		{name: "arp_ignore 8 never answers", files: map[string]string{"proc/sys/net/ipv4/conf/eth0/arp_ignore": "8"},
			setting: "net.ipv4.conf.eth0.arp_ignore", want: Finding{Current: "8 (all=1, eth0=8)", Severity: Error}},
		{name: "arp_ignore from all", files: map[string]string{"proc/sys/net/ipv4/conf/all/arp_ignore": "2"},
			setting: "net.ipv4.conf.eth0.arp_ignore", want: Finding{Current: "2 (all=2, eth0=0)", Severity: OK}},
		{name: "arp_announce interface higher than all", files: map[string]string{"proc/sys/net/ipv4/conf/all/arp_announce": "0", "proc/sys/net/ipv4/conf/eth0/arp_announce": "2"},
			setting: "net.ipv4.conf.eth0.arp_announce", want: Finding{Current: "2 (all=0, eth0=2)", Severity: OK}},
		{name: "noarp", files: map[string]string{"sys/class/net/eth0/flags": "0x1083"},
			setting: "/sys/class/net/eth0/flags", want: Finding{Current: "0x1083 (up, noarp)", Severity: Error}},
		{name: "loopback", iface: "lo", files: map[string]string{"sys/class/net/lo/operstate": "unknown", "sys/class/net/lo/carrier": "1"},
			setting: "/sys/class/net/lo/flags", want: Finding{Current: "0x9 (up, loopback)", Severity: Error}},
		{name: "veth peer down", files: map[string]string{"sys/class/net/eth0/operstate": "lowerlayerdown"},
			setting: "/sys/class/net/eth0/operstate", want: Finding{Current: "lowerlayerdown", Severity: Error}},
		{name: "virtual interface", files: map[string]string{"sys/class/net/eth0/operstate": "unknown"},
			setting: "/sys/class/net/eth0/operstate", want: Finding{Current: "unknown", Severity: OK}},
		{name: "dormant", files: map[string]string{"sys/class/net/eth0/operstate": "dormant"},
			setting: "/sys/class/net/eth0/operstate", want: Finding{Current: "dormant", Severity: Warning}},
		{name: "no carrier", files: map[string]string{"sys/class/net/eth0/carrier": "0"},
			setting: "/sys/class/net/eth0/carrier", want: Finding{Current: "0", Severity: Error}},
		{name: "carrier unreadable", files: map[string]string{"sys/class/net/eth0/carrier": ""},
			setting: "/sys/class/net/eth0/carrier", want: Finding{Current: "unreadable", Severity: Warning}},
		{name: "missing interface", iface: "eth9",
			setting: "/sys/class/net/eth9", want: Finding{Current: "missing", Severity: Error}},
		{name: "bad interface name", iface: "../eth0",
			setting: "interface", want: Finding{Current: "../eth0", Severity: Error}},
		{name: "garbage value", files: map[string]string{"proc/sys/net/ipv4/ip_nonlocal_bind": "yes"},
			setting: "net.ipv4.ip_nonlocal_bind", want: Finding{Current: "unreadable", Severity: Warning}},
		{name: "conntrack nearly full", files: map[string]string{"proc/sys/net/netfilter/nf_conntrack_count": "250000"},
			setting: "net.netfilter.nf_conntrack_count / nf_conntrack_max", want: Finding{Current: "250000 of 262144 (95%)", Severity: Error}},
		{name: "conntrack no limit", files: map[string]string{"proc/sys/net/netfilter/nf_conntrack_max": "0"},
			setting: "net.netfilter.nf_conntrack_count / nf_conntrack_max", want: Finding{Current: "1024 of no limit", Severity: OK}},
		{name: "timeout short but above keepalive", files: map[string]string{"proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established": "3600"},
			setting: "net.netfilter.nf_conntrack_tcp_timeout_established", want: Finding{Current: "3600", Severity: Info}},
		{name: "tcp_loose missing", files: map[string]string{"proc/sys/net/netfilter/nf_conntrack_tcp_loose": ""},
			setting: "net.netfilter.nf_conntrack_tcp_loose", want: Finding{Current: "not present", Severity: Info}},
		{name: "conn_reuse_mode 0", files: map[string]string{"proc/sys/net/ipv4/vs/conn_reuse_mode": "0"},
			setting: "net.ipv4.vs.conn_reuse_mode", want: Finding{Current: "0", Severity: Info}},
		{name: "accept_dad 2", files: map[string]string{"proc/sys/net/ipv6/conf/all/accept_dad": "2"},
			setting: "net.ipv6.conf.eth0.accept_dad", want: Finding{Current: "2 (all=2, eth0=1)", Severity: Info}},
		{name: "slow dad", files: map[string]string{"proc/sys/net/ipv6/conf/eth0/dad_transmits": "3"},
			setting: "net.ipv6.conf.eth0.dad_transmits", want: Finding{Current: "3", Severity: Info}},
		{name: "ipv6 off on interface", files: map[string]string{"proc/sys/net/ipv6/conf/eth0/disable_ipv6": "1"},
			setting: "net.ipv6.conf.eth0.disable_ipv6", want: Finding{Current: "1", Severity: Info}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := mapFS(t, profileGood)
			for p, v := range tc.files {
				if v == "" {
					delete(fsys, p)
					continue
				}
				fsys[p] = &fstest.MapFile{Data: []byte(v + "\n")}
			}
			iface := tc.iface
			if iface == "" {
				iface = "eth0"
			}
			var got *Finding
			for _, f := range checkFS(context.Background(), fsys, iface, nil) {
				if f.Setting == tc.setting {
					got = &f
					break
				}
			}
			if got == nil {
				t.Fatalf("no finding for %s", tc.setting)
			}
			if diff := cmp.Diff(tc.want, Finding{Current: got.Current, Severity: got.Severity}); diff != "" {
				t.Errorf("finding for %s (-want +got):\n%s\nwhy: %s", tc.setting, diff, got.Why)
			}
			if got.Why == "" || got.Check == "" || got.Recommended == "" {
				t.Errorf("finding %+v lacks check, recommended or why", *got)
			}
		})
	}
}

// A missing interface skips the per-interface sysctls instead of reporting
// each as "not present".
func TestCheckMissingInterfaceSkipsItsSysctls(t *testing.T) {
	got := Check(context.Background(), Options{Root: profileRoot(profileGood), Interface: "eth9"})
	for _, f := range got {
		if f.Current == "not present" {
			t.Errorf("finding %+v, want per-interface checks skipped", f)
		}
	}
}

func TestSeverityText(t *testing.T) {
	for _, s := range Severities() {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Severity
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("round trip of %v = %v, %v", s, back, err)
		}
	}
	if _, err := Severity(7).MarshalText(); err == nil {
		t.Error("MarshalText(7) = nil error")
	}
	var s Severity
	if err := s.UnmarshalText([]byte("fatal")); err == nil {
		t.Error(`UnmarshalText("fatal") = nil error`)
	}
	if diff := cmp.Diff(map[Severity]int{OK: 1, Info: 0, Warning: 2, Error: 0},
		Count([]Finding{{Severity: Warning}, {Severity: OK}, {Severity: Warning}})); diff != "" {
		t.Errorf("Count (-want +got):\n%s", diff)
	}
}
