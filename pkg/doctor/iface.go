package doctor

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/vipkeeper/vipkeeper/pkg/ifname"
)

// Interface flags from <linux/if.h>, as /sys/class/net/<if>/flags shows
// them.
const (
	iffUp       = 0x1
	iffLoopback = 0x8
	iffNoARP    = 0x80
)

// ErrInterfaceName is returned for a string that cannot be an interface
// name (the rule of package ifname).
var ErrInterfaceName = ifname.ErrInvalid

// validInterfaceName is ifname.Check: one rule for every part of vipkeeper.
func validInterfaceName(name string) error { return ifname.Check(name) }

// checkInterface checks that iface exists, is up, answers ARP and has a
// carrier. It reports whether the interface exists, so per-interface sysctl
// checks can be skipped when it does not.
func checkInterface(fsys fs.FS, iface string) ([]Finding, bool) {
	dir := "sys/class/net/" + iface
	f := Finding{Check: "interface", Setting: "/" + dir, Current: "present", Recommended: "present",
		Why: "vipkeeper binds and announces the VIP on this interface"}
	if err := validInterfaceName(iface); err != nil {
		f.Setting, f.Current, f.Severity, f.Why = "interface", iface, Error, err.Error()
		return []Finding{f}, false
	}
	if !exists(fsys, dir) {
		f.Current, f.Severity = "missing", Error
		return []Finding{f}, false
	}
	out := []Finding{f}
	flags, up := checkFlags(fsys, iface)
	out = append(out, flags)
	if !up {
		return out, true // operstate and carrier only repeat "down"
	}
	return append(out, checkOperstate(fsys, dir), checkCarrier(fsys, dir)), true
}

func checkFlags(fsys fs.FS, iface string) (Finding, bool) {
	dir := "sys/class/net/" + iface
	f := Finding{Check: "interface", Setting: "/" + dir + "/flags", Recommended: "up, not noarp",
		Why: "the interface must be up and answer ARP for the VIP"}
	raw, err := readText(fsys, dir+"/flags")
	var flags uint64
	if err == nil {
		flags, err = strconv.ParseUint(strings.TrimPrefix(raw, "0x"), 16, 32)
	}
	if err != nil {
		f.Current, f.Severity, f.Why = "unreadable", Warning, fmt.Sprintf("could not check: %v", err)
		return f, true
	}
	words := []string{"down"}
	if flags&iffUp != 0 {
		words[0] = "up"
	}
	if flags&iffLoopback != 0 {
		words = append(words, "loopback")
	}
	if flags&iffNoARP != 0 {
		words = append(words, "noarp")
	}
	f.Current = fmt.Sprintf("%s (%s)", raw, strings.Join(words, ", "))
	switch {
	case flags&iffUp == 0:
		f.Severity, f.Why = Error, "administratively down: the VIP cannot be reached through it (ip link set "+iface+" up)"
	case flags&iffLoopback != 0:
		f.Severity, f.Why = Error, "a loopback interface is never announced to the network"
	case flags&iffNoARP != 0:
		f.Severity, f.Why = Error, "NOARP: the kernel never answers ARP here, so neighbours cannot find the VIP"
	}
	return f, flags&iffUp != 0
}

func checkOperstate(fsys fs.FS, dir string) Finding {
	f := Finding{Check: "interface", Setting: "/" + dir + "/operstate", Recommended: "up",
		Why: "the link must work for traffic to the VIP to arrive"}
	s, err := readText(fsys, dir+"/operstate")
	if err != nil {
		f.Current, f.Severity, f.Why = "unreadable", Warning, fmt.Sprintf("could not check: %v", err)
		return f
	}
	f.Current = s
	switch s {
	case "up":
	case "unknown":
		f.Why = "the driver reports no link state (common for virtual interfaces); the carrier decides"
	case "dormant", "testing":
		f.Severity = Warning
		f.Why = "the link is up but not passing traffic yet (802.1X, testing)"
	default: // down, lowerlayerdown, notpresent
		f.Severity = Error
		f.Why = "no working link: traffic for the VIP cannot arrive here"
	}
	return f
}

func checkCarrier(fsys fs.FS, dir string) Finding {
	f := Finding{Check: "interface", Setting: "/" + dir + "/carrier", Recommended: "1",
		Why: "without a carrier (cable, switch port or peer down) the VIP is unreachable here"}
	v, err := readValue(fsys, dir+"/carrier")
	switch {
	case err != nil:
		f.Current, f.Severity, f.Why = "unreadable", Warning, fmt.Sprintf("could not check: %v", err)
	case v == 1:
		f.Current = "1"
	default:
		f.Current, f.Severity = itoa(v), Error
	}
	return f
}

// checkIPv6 rates the IPv6 settings of iface that matter for IPv6 VIPs.
func checkIPv6(fsys fs.FS, iface string) []Finding {
	if !hasIPv6(fsys) {
		return []Finding{{Check: "ipv6", Setting: "net.ipv6", Current: "not present", Recommended: "-", Severity: Info,
			Why: "IPv6 is disabled on this node (ipv6.disable=1); IPv6 VIPs cannot be used"}}
	}
	checks := []tunable{
		{name: "disable_ipv6", key: perInterface("ipv6", "disable_ipv6"), good: eq(0), recommended: "0", bad: Info,
			why: "IPv6 VIPs can be bound only while IPv6 is on for this interface"},
		{name: "accept_dad", key: perInterface("ipv6", "accept_dad"), maxAll: true, good: between(0, 1), recommended: "0 or 1", bad: Info,
			why: "vipkeeper adds IPv6 VIPs with NODAD, so DAD never holds them back; 2 turns IPv6 off on the whole interface when a MAC-based link-local address is duplicated"},
		{name: "dad_transmits", key: perInterface("ipv6", "dad_transmits"), good: between(0, 1), recommended: "1", bad: Info,
			why: "addresses added without NODAD (by other tools) stay tentative for about this many seconds"},
	}
	out := make([]Finding, 0, len(checks))
	for _, t := range checks {
		f, _, _ := judge(fsys, iface, t)
		out = append(out, f)
	}
	return out
}
