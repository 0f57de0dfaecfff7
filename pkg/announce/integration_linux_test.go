//go:build linux

package announce

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestIntegrationUpdatesNeighbourCaches runs a real Announcer in namespace A
// and checks that namespace B's stale neighbour entries for the VIPs move to
// A's MAC. Only documentation addresses are used, on a veth pair that exists
// only inside the two test namespaces.
func TestIntegrationUpdatesNeighbourCaches(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (iproute2)")
	}
	t.Run("link-local source", func(t *testing.T) { testIntegration(t, false) })
	// With DAD on, A's link-local address is still tentative right after the
	// link comes up, so the NA socket binds to the (nodad) VIP instead.
	t.Run("tentative link-local", func(t *testing.T) { testIntegration(t, true) })
}

func testIntegration(t *testing.T, dadOnA bool) {

	suffix := randomHex(t, 3)
	nsA, nsB := "vkann-"+suffix+"a", "vkann-"+suffix+"b"
	ifA, ifB := "vka"+suffix, "vkb"+suffix // ≤ 15 bytes
	const (
		vip4   = "192.0.2.100"
		vip6   = "2001:db8::100"
		fakeHW = "02:00:00:00:00:99"
	)

	addNetns(t, nsA)
	addNetns(t, nsB)
	// Created inside A with its peer in B: nothing touches the host namespace.
	mustIP(t, "-n", nsA, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", nsB)
	// Without DAD the link-local address is usable at once.
	mustRun(t, "ip", "netns", "exec", nsB, "sysctl", "-qw", "net.ipv6.conf."+ifB+".accept_dad=0")
	if !dadOnA {
		mustRun(t, "ip", "netns", "exec", nsA, "sysctl", "-qw", "net.ipv6.conf."+ifA+".accept_dad=0")
	}
	mustIP(t, "-n", nsA, "addr", "add", "192.0.2.1/24", "dev", ifA)
	mustIP(t, "-n", nsA, "addr", "add", "2001:db8::1/64", "dev", ifA, "nodad")
	mustIP(t, "-n", nsA, "addr", "add", vip4+"/32", "dev", ifA)
	mustIP(t, "-n", nsA, "addr", "add", vip6+"/128", "dev", ifA, "nodad")
	mustIP(t, "-n", nsB, "addr", "add", "192.0.2.2/24", "dev", ifB)
	mustIP(t, "-n", nsB, "addr", "add", "2001:db8::2/64", "dev", ifB, "nodad")
	mustIP(t, "-n", nsA, "link", "set", ifA, "up")
	mustIP(t, "-n", nsB, "link", "set", ifB, "up")
	waitFor(t, 3*time.Second, "link up in B", func() (bool, string) {
		out := ipOut(t, "-n", nsB, "link", "show", ifB)
		return strings.Contains(out, "LOWER_UP"), out
	})

	mustIP(t, "-n", nsB, "neigh", "replace", vip4, "lladdr", fakeHW, "dev", ifB, "nud", "stale")
	mustIP(t, "-n", nsB, "neigh", "replace", vip6, "lladdr", fakeHW, "dev", ifB, "nud", "stale")

	// Everything that opens sockets or looks up the link runs on a thread
	// that has entered A and is never returned to the scheduler: the
	// goroutine exits while locked, so the runtime discards the thread.
	ctx, cancel := context.WithCancel(t.Context())
	type result struct {
		mac   net.HardwareAddr
		stats map[StatsKey]Counts
		err   error
	}
	ready := make(chan net.HardwareAddr, 1)
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		if err := enterNetns(nsA); err != nil {
			done <- result{err: err}
			return
		}
		ifi, err := net.InterfaceByName(ifA)
		if err != nil {
			done <- result{err: err}
			return
		}
		a := New(Config{Interface: ifA, RefreshInterval: time.Second},
			slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})))
		a.Takeover([]netip.Addr{netip.MustParseAddr(vip4), netip.MustParseAddr(vip6)})
		ready <- ifi.HardwareAddr
		err = a.Start(ctx)
		done <- result{mac: ifi.HardwareAddr, stats: a.Stats(), err: err}
	}()
	var res result
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			res = <-done
		}
	}
	t.Cleanup(stop) // runs before the namespaces are deleted

	var macA net.HardwareAddr
	select {
	case macA = <-ready:
	case res = <-done:
		stopped = true
		t.Fatalf("announcer in %s: %v", nsA, res.err)
	}

	for _, vip := range []string{vip4, vip6} {
		waitFor(t, 3*time.Second, "neighbour "+vip+" in B has A's MAC", func() (bool, string) {
			out := ipOut(t, "-n", nsB, "neigh", "show", vip, "dev", ifB)
			return strings.Contains(out, "lladdr "+macA.String()), out
		})
	}

	stop()
	if res.err != nil {
		t.Fatalf("Start: %v", res.err)
	}
	for k, c := range res.stats {
		if c.Errors != 0 {
			t.Errorf("stats %v: %d errors", k, c.Errors)
		}
	}
	if c := res.stats[StatsKey{ProtocolARP, TriggerTakeover}]; c.Packets < 2 {
		t.Errorf("arp takeover packets = %d, want ≥ 2", c.Packets)
	}
	if c := res.stats[StatsKey{ProtocolNDP, TriggerTakeover}]; c.Packets < 1 {
		t.Errorf("ndp takeover packets = %d, want ≥ 1", c.Packets)
	}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// addNetns creates a named network namespace and deletes it at cleanup,
// skipping the test when the kernel refuses.
func addNetns(t *testing.T, name string) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "add", name).CombinedOutput()
	if err != nil {
		if bytes.Contains(out, []byte("not permitted")) || errors.Is(err, unix.EPERM) {
			t.Skip("needs root: creates a network namespace")
		}
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
}

// enterNetns moves the calling (locked) thread into the named namespace.
func enterNetns(name string) error {
	f, err := os.Open("/run/netns/" + name)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("setns %s: %w", name, err)
	}
	return nil
}

func mustIP(t *testing.T, args ...string) {
	t.Helper()
	mustRun(t, "ip", args...)
}

func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

func ipOut(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// waitFor polls cond every 50 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last: %q", timeout, what, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

var _ io.Writer = testWriter{}
