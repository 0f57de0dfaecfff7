// Package doctor inspects the kernel settings that decide whether a VIP
// failover keeps connections alive, and changes them only when asked.
//
// Moving a VIP is half the job; the other half is what happens to the
// packets of established connections that arrive at the new holder, which
// has no IPVS or conntrack state for them. [Check] reads /proc/sys, /proc/net,
// /sys/class/net and, given a ConfigMap reader, kube-proxy's configuration,
// and returns one [Finding] per setting: its current and recommended value,
// why it matters in an operator's words, and a [Severity]:
//
//   - Error: the VIP itself will not work from this node (interface down,
//     no carrier, NOARP, arp_ignore=8, a full conntrack table, kube-proxy in
//     IPVS mode without strictARP).
//   - Warning: established connections will not survive a failover as they
//     could (IPVS without sloppy_tcp, conntrack without be_liberal or loose
//     pickup).
//   - Info: worth knowing, but failovers work either way or only some setups
//     are affected (nonlocal_bind, keepalive timers, a missing conntrack
//     module).
//
// Every check is a small function over a filesystem rooted at "/"
// ([Options].Root), so tests run them against fixture trees, the way
// node_exporter tests its collectors.
//
// [Apply] writes only the settings it is given by name (see [Settings]) and
// checks all of them before writing any; [Plan] and [DropIn] render the
// same settings as a sysctl.d file instead. Nothing in this package logs:
// callers decide what to do with findings.
//
// The settings are explained for operators in docs/tuning.md.
package doctor
