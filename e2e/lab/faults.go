package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
)

// LinkDown sets node i's eth0 administratively down (`ip link set eth0
// down`). The kernel keeps IPv4 addresses but flushes IPv6 ones, VIPs
// included.
func (l *Lab) LinkDown(i int) {
	l.t.Helper()
	if err := l.nodes[i].ns.IP("link", "set", "eth0", "down"); err != nil {
		l.t.Fatalf("LinkDown(%d): %v", i, err)
	}
}

// LinkUp sets node i's eth0 up again and restores the node's own addresses,
// as a network manager would. VIPs are the daemon's business.
func (l *Lab) LinkUp(i int) {
	l.t.Helper()
	n := l.nodes[i]
	if err := n.ns.IP("link", "set", "eth0", "up"); err != nil {
		l.t.Fatalf("LinkUp(%d): %v", i, err)
	}
	if err := addOwnAddrs(n.port); err != nil {
		l.t.Fatalf("LinkUp(%d): %v", i, err)
	}
}

// cutRules drop traffic between a node and the API server's addresses, in
// the node's namespace only; the data plane is untouched.
func cutRules(op string) [][]string {
	const tag = "vipkeeper-lab-cutapi"
	var rules [][]string
	for _, a := range []struct{ cmd, addr string }{{"iptables", apiAddr4.String()}, {"ip6tables", apiAddr6.String()}} {
		rules = append(rules,
			[]string{a.cmd, "-w", "5", op, "OUTPUT", "-d", a.addr, "-m", "comment", "--comment", tag, "-j", "DROP"},
			[]string{a.cmd, "-w", "5", op, "INPUT", "-s", a.addr, "-m", "comment", "--comment", tag, "-j", "DROP"})
	}
	return rules
}

// CutAPI drops all packets between node i and the API server (both ways).
// Established connections hang rather than reset, as in a real partition.
func (l *Lab) CutAPI(i int) {
	l.t.Helper()
	for _, r := range cutRules("-I") {
		if out, err := l.nodes[i].ns.Exec(r[0], r[1:]...); err != nil {
			l.t.Fatalf("CutAPI(%d): %v: %s", i, err, out)
		}
	}
}

// HealAPI removes CutAPI's rules.
func (l *Lab) HealAPI(i int) {
	l.t.Helper()
	for _, r := range cutRules("-D") {
		if out, err := l.nodes[i].ns.Exec(r[0], r[1:]...); err != nil {
			l.t.Fatalf("HealAPI(%d): %v: %s", i, err, out)
		}
	}
}

// DelVIP deletes every VIP address node i holds, behind the daemon's back,
// and returns how many it deleted.
func (l *Lab) DelVIP(i int) int {
	l.t.Helper()
	n := l.nodes[i].ns
	deleted := 0
	err := n.withNetlink(func(h *netlink.Handle) error {
		addrs, err := h.AddrList(nil, netlink.FAMILY_ALL)
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if !slices.Contains(l.opts.VIPs, addrOf(a)) {
				continue
			}
			link, err := h.LinkByIndex(a.LinkIndex)
			if err != nil {
				return err
			}
			if err := h.AddrDel(link, &a); err != nil {
				return fmt.Errorf("del %s: %w", a.IPNet, err)
			}
			deleted++
		}
		return nil
	})
	if err != nil {
		l.t.Fatalf("DelVIP(%d): %v", i, err)
	}
	return deleted
}

func addrOf(a netlink.Addr) netip.Addr {
	ip, _ := netip.AddrFromSlice(a.IP)
	return ip.Unmap()
}

// OwnersOf returns the names of the nodes that hold vip on an interface that
// is up (administratively up, and with carrier): the nodes that could answer
// for it. A crashed node's VIP on a downed link does not count; see HoldersOf.
// Safe to call from any goroutine.
func (l *Lab) OwnersOf(vip netip.Addr) ([]string, error) { return l.holders(vip, true) }

// HoldersOf returns the names of the nodes whose namespace holds vip on any
// interface, whatever its state.
func (l *Lab) HoldersOf(vip netip.Addr) ([]string, error) { return l.holders(vip, false) }

func (l *Lab) holders(vip netip.Addr, onlyUp bool) ([]string, error) {
	held, err := l.holdersOfAll([]netip.Addr{vip}, onlyUp)
	return held[vip], err
}

// Owners returns the names of the nodes holding the first VIP.
func (l *Lab) Owners() []string {
	l.t.Helper()
	o, err := l.OwnersOf(l.opts.VIPs[0])
	if err != nil {
		l.t.Fatalf("Owners: %v", err)
	}
	return o
}

// WaitOwner waits until exactly one node holds vip, and returns its name.
func (l *Lab) WaitOwner(vip netip.Addr, timeout time.Duration) string {
	l.t.Helper()
	var last []string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
		o, err := l.OwnersOf(vip)
		if err != nil {
			l.t.Fatalf("WaitOwner: %v", err)
		}
		if len(o) == 1 {
			return o[0]
		}
		last = o
	}
	l.t.Fatalf("WaitOwner(%s): no single owner after %v; owners %v", vip, timeout, last)
	return ""
}

// WaitFollowers waits until every daemon but owner's has seen the
// control-plane Lease's leader (its keeper logs "leader observed"). The
// lab starts the daemons one after another, and on a loaded machine the
// last can still be initialising seconds after the first holds the VIP: a
// fault injected then finds no follower ready to take over, and measures
// the lab instead of vipkeeper.
func (l *Lab) WaitFollowers(owner string, timeout time.Duration) {
	l.t.Helper()
	deadline := time.Now().Add(timeout)
	for i := range l.nodes {
		if l.NodeName(i) == owner {
			continue
		}
		for {
			if text, _ := l.DaemonLog(i, 0); strings.Contains(text, `msg="leader observed"`) {
				break
			}
			if time.Now().After(deadline) {
				l.t.Fatalf("WaitFollowers: %s has not observed a leader after %v", l.NodeName(i), timeout)
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
}

// WaitServed waits until the client gets an answer from vip and returns who
// answered.
func (l *Lab) WaitServed(vip netip.Addr, timeout time.Duration) string {
	l.t.Helper()
	var last error
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		who, err := l.get(context.Background(), l.Target(vip), 200*time.Millisecond)
		if err == nil {
			return who
		}
		last = err
	}
	l.t.Fatalf("WaitServed(%s): client not served after %v: %v", vip, timeout, last)
	return ""
}

// FreezeNode stops node i's daemon (SIGSTOP to its process group), as a GC
// pause, a cgroup freezer or a paused VM would: it runs no code until
// ThawNode, but its kernel keeps whatever the daemon configured.
func (l *Lab) FreezeNode(i int) { l.signalGroup(i, syscall.SIGSTOP) }

// ThawNode continues node i's daemon after FreezeNode (SIGCONT).
func (l *Lab) ThawNode(i int) { l.signalGroup(i, syscall.SIGCONT) }

func (l *Lab) signalGroup(i int, sig syscall.Signal) {
	l.t.Helper()
	p := l.nodes[i].currentDaemon()
	if p == nil || p.Exited() {
		l.t.Fatalf("signal %v to node %d: no daemon runs", sig, i)
	}
	// The daemon leads its own process group (startProc sets Setpgid).
	if err := syscall.Kill(-p.PID(), sig); err != nil {
		l.t.Fatalf("signal %v to node %d (pgid %d): %v", sig, i, p.PID(), err)
	}
}

// ValidLifetime is the valid lifetime the kernel reports for addr on node
// i (`ip -d addr`: seconds left, or ok false if the node does not hold it);
// 0xffffffff is forever.
func (l *Lab) ValidLifetime(i int, addr netip.Addr) (secs uint32, ok bool) {
	l.t.Helper()
	var lft uint32
	err := l.nodes[i].ns.withNetlink(func(h *netlink.Handle) error {
		addrs, err := h.AddrList(nil, netlink.FAMILY_ALL)
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if addrOf(a) == addr {
				lft, ok = uint32(a.ValidLft), true
			}
		}
		return nil
	})
	if err != nil {
		l.t.Fatalf("addresses of node %d: %v", i, err)
	}
	return lft, ok
}

// isolateTable is the nftables bridge table of IsolatePort.
const isolateTable = "vipkeeper_lab_isolate"

// IsolatePort drops, at the switch (an nftables bridge table in the
// bridge's namespace), every frame between node i's port and every other
// port except the client's: the node loses the API server and its peers
// — their Lease writes, their ARP and NDP, their witness beacons — while
// the client still reaches it and it still reaches the client. Undone by
// HealPort, and in t.Cleanup.
func (l *Lab) IsolatePort(i int) {
	l.t.Helper()
	port, client := l.nodes[i].port.peer, "cl"
	ruleset := fmt.Sprintf(`table bridge %[1]s {
	chain forward {
		type filter hook forward priority 0; policy accept;
		iifname "%[2]s" oifname != "%[3]s" drop
		oifname "%[2]s" iifname != "%[3]s" drop
	}
}
`, isolateTable, port, client)
	f, err := os.CreateTemp(l.Dir, "isolate-*.nft")
	if err == nil {
		_, err = f.WriteString(ruleset)
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		l.t.Fatalf("IsolatePort(%d): %v", i, err)
	}
	if out, err := l.br.Exec("nft", "-f", f.Name()); err != nil {
		l.t.Fatalf("IsolatePort(%d): nft: %v: %s", i, err, out)
	}
	l.t.Cleanup(func() { l.healPort() })
}

// HealPort removes IsolatePort's table.
func (l *Lab) HealPort() {
	l.t.Helper()
	if out, err := l.healPort(); err != nil {
		l.t.Fatalf("HealPort: %v: %s", err, out)
	}
}

// healPort deletes the table if it is there.
func (l *Lab) healPort() (string, error) {
	if _, err := l.br.Exec("nft", "list", "table", "bridge", isolateTable); err != nil {
		return "", nil // not there: nothing to undo
	}
	return l.br.Exec("nft", "delete", "table", "bridge", isolateTable)
}
