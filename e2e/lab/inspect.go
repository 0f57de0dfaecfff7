package lab

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
)

// SetHealthy makes node i's HTTP helper answer HealthPath with 200 (true)
// or 503 (false). Daemons started with `--health-http` HealthURL() see it on
// their next probe.
func (l *Lab) SetHealthy(i int, healthy bool) {
	l.t.Helper()
	sick := l.nodes[i].sick
	var err error
	if healthy {
		if err = os.Remove(sick); os.IsNotExist(err) {
			err = nil
		}
	} else {
		err = os.WriteFile(sick, nil, 0o644)
	}
	if err != nil {
		l.t.Fatalf("SetHealthy(%d, %v): %v", i, healthy, err)
	}
}

// HealthURL is the health endpoint every node's HTTP helper serves on the
// node's loopback, for `--health-http`.
func (l *Lab) HealthURL() string { return HealthURL(l.opts.Port) }

// HealthURL is the health endpoint of HTTP helpers listening on port.
func HealthURL(port int) string { return "http://" + hostPort("127.0.0.1", port) + HealthPath }

// NodeMAC is the hardware address of node i's eth0.
func (l *Lab) NodeMAC(i int) net.HardwareAddr {
	l.t.Helper()
	mac, err := linkMAC(l.nodes[i].ns, "eth0")
	if err != nil {
		l.t.Fatalf("NodeMAC(%d): %v", i, err)
	}
	return mac
}

// Neigh is one entry of the client's neighbour cache.
type Neigh struct {
	MAC   net.HardwareAddr
	State string // "REACHABLE", "STALE", … as `ip neigh` prints it
}

func (n Neigh) String() string { return fmt.Sprintf("%s %s", n.MAC, n.State) }

// ClientNeigh returns the client's neighbour-cache entry for addr, and
// whether there is one.
func (l *Lab) ClientNeigh(addr netip.Addr) (Neigh, bool) {
	l.t.Helper()
	n, ok, err := neighOf(l.client, addr)
	if err != nil {
		l.t.Fatalf("ClientNeigh(%s): %v", addr, err)
	}
	return n, ok
}

// neighOf is ns's neighbour-cache entry for addr, and whether there is one.
func neighOf(ns *NS, addr netip.Addr) (Neigh, bool, error) {
	family := netlink.FAMILY_V4
	if addr.Is6() {
		family = netlink.FAMILY_V6
	}
	var got Neigh
	var found bool
	err := ns.withNetlink(func(h *netlink.Handle) error {
		list, err := h.NeighList(0, family)
		if err != nil {
			return err
		}
		for _, n := range list {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == addr {
				got, found = Neigh{MAC: n.HardwareAddr, State: neighState(n.State)}, true
			}
		}
		return nil
	})
	return got, found, err
}

func neighState(s int) string {
	names := []struct {
		bit  int
		name string
	}{
		{netlink.NUD_INCOMPLETE, "INCOMPLETE"}, {netlink.NUD_REACHABLE, "REACHABLE"},
		{netlink.NUD_STALE, "STALE"}, {netlink.NUD_DELAY, "DELAY"}, {netlink.NUD_PROBE, "PROBE"},
		{netlink.NUD_FAILED, "FAILED"}, {netlink.NUD_NOARP, "NOARP"}, {netlink.NUD_PERMANENT, "PERMANENT"},
	}
	var out []string
	for _, n := range names {
		if s&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	if len(out) == 0 {
		return "NONE"
	}
	return strings.Join(out, ",")
}

// PIDs are the PIDs of every node's current daemon run (0 for none), in
// node order.
func (l *Lab) PIDs() []int {
	pids := make([]int, len(l.nodes))
	for i := range l.nodes {
		pids[i] = l.NodePID(i)
	}
	return pids
}

// VipkeeperBin is the path of the vipkeeper binary the lab runs (built on
// first use), for tests that run its other commands (`vipkeeper manifest`).
func VipkeeperBin() (string, error) {
	vk, _, err := getBinaries()
	return vk, err
}

// DaemonHelp is the output of `vipkeeper run --help` of the binary the lab
// runs (built on first use), so tests can tell which flags it accepts.
func DaemonHelp() (string, error) {
	daemonHelp.once.Do(func() {
		vk, _, err := getBinaries()
		if err != nil {
			daemonHelp.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		defer cancel()
		var b bytes.Buffer
		cmd := exec.CommandContext(ctx, vk, "run", "--help")
		cmd.Stdout, cmd.Stderr = &b, &b
		_ = cmd.Run() // --help may exit non-zero; the text is what matters
		daemonHelp.text = b.String()
		if !strings.Contains(daemonHelp.text, "--interface") {
			daemonHelp.err = fmt.Errorf("`%s run --help` printed no flags:\n%s", vk, daemonHelp.text)
		}
	})
	return daemonHelp.text, daemonHelp.err
}

var daemonHelp struct {
	once sync.Once
	text string
	err  error
}

// DaemonHasFlag reports whether `vipkeeper run` accepts flag (e.g.
// "--health-http"). It fails t if the binary cannot be built or run.
func DaemonHasFlag(t interface {
	Helper()
	Fatalf(string, ...any)
}, flag string) bool {
	t.Helper()
	help, err := DaemonHelp()
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	for _, line := range strings.Split(help, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && (f[0] == flag || strings.HasSuffix(f[0], ", "+flag)) {
			return true
		}
	}
	return false
}

// WaitFor polls cond every 20 ms until it returns true or timeout passes,
// and reports whether it did. cond runs on the test's goroutine.
func WaitFor(timeout time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// DaemonLog is node i's daemon log from byte offset from on, and the offset
// of its end; tests quote it as evidence.
func (l *Lab) DaemonLog(i int, from int64) (string, int64) {
	b, err := os.ReadFile(l.nodes[i].log)
	if err != nil {
		return "(" + err.Error() + ")", from
	}
	if from > int64(len(b)) {
		from = 0
	}
	return string(b[from:]), int64(len(b))
}

// GrepLog returns the lines of node i's daemon log that contain every one
// of words, at most max of them (the last ones).
func (l *Lab) GrepLog(i int, max int, words ...string) []string {
	text, _ := l.DaemonLog(i, 0)
	var out []string
	for _, line := range strings.Split(text, "\n") {
		all := true
		for _, w := range words {
			all = all && strings.Contains(line, w)
		}
		if all && line != "" {
			out = append(out, line)
		}
	}
	if len(out) > max {
		out = out[len(out)-max:]
	}
	return out
}

// dumpLogs prints the tail of every log, for a failed test.
func (l *Lab) dumpLogs() {
	for _, n := range l.nodes {
		l.t.Logf("--- %s: tail of %s ---\n%s", n.name, n.log, tail(n.log, 40))
	}
	logs := []string{"kube-apiserver"}
	if l.opts.HA {
		logs = nil
		for _, n := range l.nodes {
			logs = append(logs, haPrefix+n.name)
		}
	}
	for _, name := range logs {
		l.t.Logf("--- tail of %s.log ---\n%s", name, tail(filepath.Join(l.Dir, name+".log"), 15))
	}
}
