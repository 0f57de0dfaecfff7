package doctor

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var ignoreUnexported = cmpopts.IgnoreUnexported(Change{})

func TestApplyWritesOnlyNamedSettings(t *testing.T) {
	root := copyProfile(t, profileIPVSNoSloppy)
	before := snapshot(t, root)
	got, err := Apply(ApplyOptions{Root: root, Interface: "eth0", Names: []string{"be_liberal", "sloppy_tcp", "conn_reuse_mode", "arp_ignore"}})
	if err != nil {
		t.Fatal(err)
	}
	// In report order; conn_reuse_mode is already 1 and is not written.
	want := []Change{
		{Check: "arp_ignore", Setting: "net.ipv4.conf.eth0.arp_ignore", From: "0", To: "1"},
		{Check: "sloppy_tcp", Setting: "net.ipv4.vs.sloppy_tcp", From: "0", To: "1"},
		{Check: "conn_reuse_mode", Setting: "net.ipv4.vs.conn_reuse_mode", From: "1", To: "1"},
		{Check: "be_liberal", Setting: "net.netfilter.nf_conntrack_tcp_be_liberal", From: "0", To: "1"},
	}
	if diff := cmp.Diff(want, got, ignoreUnexported); diff != "" {
		t.Errorf("Apply (-want +got):\n%s", diff)
	}
	wantFiles := before
	wantFiles["proc/sys/net/ipv4/conf/eth0/arp_ignore"] = "1\n"
	wantFiles["proc/sys/net/ipv4/vs/sloppy_tcp"] = "1\n"
	wantFiles["proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal"] = "1\n"
	if diff := cmp.Diff(wantFiles, snapshot(t, root)); diff != "" {
		t.Errorf("files after Apply (-want +got):\n%s", diff)
	}
}

func TestApplyLongerValue(t *testing.T) {
	root := copyProfile(t, profileConntrackStrict)
	if _, err := Apply(ApplyOptions{Root: root, Names: []string{"timeout_established", " keepalive_time "}}); err != nil {
		t.Fatal(err)
	}
	got := snapshot(t, root)
	if v := got["proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established"]; v != "86400\n" {
		t.Errorf("timeout_established = %q, want 86400", v)
	}
	if v := got["proc/sys/net/ipv4/tcp_keepalive_time"]; v != "600\n" {
		t.Errorf("keepalive_time = %q, want 600", v)
	}
}

// Every failure is found before anything is written.
func TestApplyWritesNothingOnError(t *testing.T) {
	for _, tc := range []struct {
		name    string
		profile string
		iface   string
		names   []string
		wantErr error
		wantMsg string
	}{
		{name: "unknown name", profile: profileIPVSNoSloppy, names: []string{"be_liberal", "sloppy", "ip_forward"},
			wantErr: ErrUnknownSetting, wantMsg: `"sloppy", "ip_forward"`},
		{name: "empty name", profile: profileIPVSNoSloppy, names: []string{"be_liberal", ""}, wantErr: ErrUnknownSetting},
		{name: "module not loaded", profile: profileConntrackStrict, names: []string{"be_liberal", "sloppy_tcp"},
			wantErr: ErrNotPresent, wantMsg: "ip_vs"},
		{name: "no interface", profile: profileIPVSNoSloppy, iface: "-", names: []string{"be_liberal", "arp_ignore"},
			wantErr: ErrInterfaceName},
		{name: "all overrides interface", profile: "arp-ignore-8", names: []string{"be_liberal", "arp_ignore"},
			wantErr: ErrOverridden, wantMsg: "net.ipv4.conf.all.arp_ignore is 8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var root string
			if tc.profile == "arp-ignore-8" {
				root = copyProfile(t, profileIPVSNoSloppy)
				if err := os.WriteFile(filepath.Join(root, "proc/sys/net/ipv4/conf/all/arp_ignore"), []byte("8\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			} else {
				root = copyProfile(t, tc.profile)
			}
			iface := tc.iface
			switch iface {
			case "":
				iface = "eth0"
			case "-":
				iface = ""
			}
			before := snapshot(t, root)
			changes, err := Apply(ApplyOptions{Root: root, Interface: iface, Names: tc.names})
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("Apply error = %v, want %v containing %q", err, tc.wantErr, tc.wantMsg)
			}
			if changes != nil {
				t.Errorf("Apply changes = %+v, want none", changes)
			}
			if diff := cmp.Diff(before, snapshot(t, root)); diff != "" {
				t.Errorf("Apply wrote files (-before +after):\n%s", diff)
			}
		})
	}
}

// Apply never creates a file, even one Plan thinks exists.
func TestWriteDoesNotCreate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sloppy_tcp")
	if err := write(p, "1"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("write to a missing file = %v, want ErrNotExist", err)
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("write created %s", p)
	}
}

func TestDropIn(t *testing.T) {
	root := copyProfile(t, profileConntrackStrict)
	before := snapshot(t, root)
	// sloppy_tcp is not present here: a drop-in may still set it for when
	// ip_vs is loaded. keepalive_probes is 9 and arp_notify 0.
	changes, err := Plan(ApplyOptions{Root: root, Interface: "eth0", Names: []string{"be_liberal", "sloppy_tcp", "arp_notify", "tcp_loose"}})
	if err != nil {
		t.Fatal(err)
	}
	got := string(DropIn(changes))
	want := `# /etc/sysctl.d/90-vipkeeper.conf, rendered by ` + "`vipkeeper doctor --sysctl-d`" + `.
# Kernel settings for keeping connections across a VIP failover; see docs/tuning.md.
# Keys starting with "-" exist only once ip_vs and nf_conntrack are loaded: list them in
# /etc/modules-load.d/ so they are loaded before systemd-sysctl runs.

# arp_notify: ` + mustLookup("arp_notify").why + `
net.ipv4.conf.eth0.arp_notify = 1

# sloppy_tcp: ` + mustLookup("sloppy_tcp").why + `
-net.ipv4.vs.sloppy_tcp = 1

# be_liberal: ` + mustLookup("be_liberal").why + `
-net.netfilter.nf_conntrack_tcp_be_liberal = 1

# tcp_loose: ` + mustLookup("tcp_loose").why + `
-net.netfilter.nf_conntrack_tcp_loose = 1
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DropIn (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, snapshot(t, root)); diff != "" {
		t.Errorf("Plan wrote files (-before +after):\n%s", diff)
	}
}

// A VLAN interface name holds a dot, so its key is written with slashes.
func TestDropInDottedInterface(t *testing.T) {
	root := copyProfile(t, profileGood)
	src := filepath.Join(root, "proc/sys/net/ipv4/conf/eth0")
	if err := os.Rename(src, filepath.Join(root, "proc/sys/net/ipv4/conf/eth0.100")); err != nil {
		t.Fatal(err)
	}
	changes, err := Plan(ApplyOptions{Root: root, Interface: "eth0.100", Names: []string{"arp_announce"}})
	if err != nil {
		t.Fatal(err)
	}
	// all=2 already gives the recommended value; the drop-in keeps the
	// interface's own.
	want := []Change{{Check: "arp_announce", Setting: "net.ipv4.conf.eth0.100.arp_announce", From: "0", To: "0"}}
	if diff := cmp.Diff(want, changes, ignoreUnexported); diff != "" {
		t.Errorf("Plan (-want +got):\n%s", diff)
	}
	if got := string(DropIn(changes)); !strings.Contains(got, "\nnet/ipv4/conf/eth0.100/arp_announce = 0\n") {
		t.Errorf("DropIn = %s, want the slash form of the key", got)
	}
}

func TestSettingsAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range Settings() {
		if seen[n] {
			t.Errorf("setting %q listed twice", n)
		}
		seen[n] = true
		tn := mustLookup(n)
		if !tn.good(tn.want) {
			t.Errorf("%s: Apply would write %d, which its own check rejects", n, tn.want)
		}
	}
}
