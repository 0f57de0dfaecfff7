//go:build linux

package health

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The integration tests build two network namespaces of their own joined by
// a veth pair, A (192.0.2.1/24, 2001:db8::1/64) ↔ B (192.0.2.2/24,
// 2001:db8::2/64), and run the real prober code inside A. Only documentation
// addresses are used and no traffic leaves the two namespaces.

// vethPair is the test network.
type vethPair struct {
	nsA, nsB string
	ifA, ifB string
	a        netns.NsHandle // A, for running code inside it
}

func newVethPair(t *testing.T) *vethPair {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and raw ICMP sockets")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (iproute2)")
	}
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	s := hex.EncodeToString(b)
	v := &vethPair{nsA: "vkhealth-" + s + "a", nsB: "vkhealth-" + s + "b", ifA: "vkh" + s + "a", ifB: "vkh" + s + "b"}
	addNetns(t, v.nsA)
	addNetns(t, v.nsB)
	// Created inside A with its peer in B: nothing touches the host namespace.
	run(t, "ip", "-n", v.nsA, "link", "add", v.ifA, "type", "veth", "peer", "name", v.ifB, "netns", v.nsB)
	for _, x := range []struct{ ns, dev, v4, v6 string }{{v.nsA, v.ifA, "192.0.2.1/24", "2001:db8::1/64"}, {v.nsB, v.ifB, "192.0.2.2/24", "2001:db8::2/64"}} {
		run(t, "ip", "netns", "exec", x.ns, "sysctl", "-qw", "net.ipv6.conf."+x.dev+".accept_dad=0")
		run(t, "ip", "-n", x.ns, "addr", "add", x.v4, "dev", x.dev)
		run(t, "ip", "-n", x.ns, "addr", "add", x.v6, "dev", x.dev, "nodad")
		run(t, "ip", "-n", x.ns, "link", "set", x.dev, "up")
	}
	v.waitUp(t, v.nsA, v.ifA, true)
	v.waitUp(t, v.nsB, v.ifB, true)
	h, err := netns.GetFromName(v.nsA)
	if err != nil {
		t.Fatalf("open namespace %s: %v", v.nsA, err)
	}
	t.Cleanup(func() { h.Close() }) // before the namespaces are deleted
	v.a = h
	return v
}

// waitUp waits until a link's operational state is (or is no longer) UP.
// The kernel's linkwatch work sets it, up to a second after a carrier
// change, when it also lets the link transmit.
func (v *vethPair) waitUp(t *testing.T, ns, dev string, want bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; ; i++ {
		out := output(t, "ip", "-n", ns, "link", "show", dev)
		if strings.Contains(out, " state UP ") == want {
			return
		}
		if time.Now().After(deadline) || i > 500 {
			t.Fatalf("%s in %s: state UP never became %v: %s", dev, ns, want, out)
		}
		time.Sleep(10 * time.Millisecond) // polling the kernel, not waiting on our code
	}
}

func addNetns(t *testing.T, name string) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "add", name).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "not permitted") || errors.Is(err, unix.EPERM) {
			t.Skip("needs root: cannot create a network namespace")
		}
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
}

func run(t *testing.T, name string, args ...string) { t.Helper(); output(t, name, args...) }

func output(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// inNetns runs fn on a thread inside ns. The thread is never unlocked, so
// the runtime discards it when the goroutine exits.
func inNetns(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})).With("component", "health")
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func TestIntegrationICMP(t *testing.T) {
	v := newVethPair(t)
	cfg := Config{Interval: 2 * time.Second, Timeout: time.Second}
	ping := func(target string) error {
		t.Helper()
		c, err := ParseICMPCheck(target)
		if err != nil {
			t.Fatal(err)
		}
		c.Name = "icmp-0"
		probe, err := newICMPProbe(c, cfg, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err = inNetns(v.a, func() error {
			ctx, cancel := context.WithTimeout(t.Context(), cfg.Timeout)
			defer cancel()
			return probe(ctx)
		})
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			t.Skipf("raw ICMP socket not permitted (needs CAP_NET_RAW): %v", err)
		}
		if took := time.Since(start); took > 3*cfg.Timeout {
			t.Errorf("ping %s took %v with timeout %v", target, took, cfg.Timeout)
		}
		return err
	}

	for _, peer := range []string{"2001:db8::2", "192.0.2.2"} {
		if err := ping(peer); err != nil {
			t.Errorf("ping %s (the peer): %v", peer, err)
		}
	}
	if err := ping("192.0.2.3"); !errors.Is(err, errNoReply) {
		t.Errorf("ping 192.0.2.3 (nobody) = %v, want no reply", err)
	}

	run(t, "ip", "-n", v.nsB, "link", "set", v.ifB, "down")
	v.waitUp(t, v.nsA, v.ifA, false)
	for _, peer := range []string{"192.0.2.2", "2001:db8::2"} {
		if err := ping(peer); err == nil {
			t.Errorf("ping %s succeeded with the peer's link down", peer)
		} else {
			t.Logf("ping %s with the peer's link down: %s", peer, shortReason(err))
		}
	}
}

// TestIntegrationLinkTracking runs a whole Prober in A with an ICMP check to
// B and link tracking on A's veth: the link going down, losing carrier or
// disappearing makes the node unhealthy at once.
func TestIntegrationLinkTracking(t *testing.T) {
	v := newVethPair(t)
	cfg := Config{
		Checks:    []Check{{Name: "icmp-0", Kind: KindICMP, Target: "192.0.2.2"}},
		Interval:  200 * time.Millisecond,
		Timeout:   100 * time.Millisecond,
		Rise:      2,
		Fall:      25, // 5 s: the check cannot fall within the time we allow the link
		Interface: v.ifA,
	}
	notes := make(chan Status, 100)
	notify := func(s Status) {
		select {
		case notes <- s:
		default:
			t.Error("notification buffer full")
		}
	}
	log := testLogger(t)
	inA := func(c Check, cfg Config, log *slog.Logger) (probeFunc, error) {
		probe, err := newProbe(c, cfg, log)
		return func(ctx context.Context) error { return inNetns(v.a, func() error { return probe(ctx) }) }, err
	}
	p, err := newProber(cfg, notify, log, inA, &netlinkWatcher{ns: v.a, log: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Start(ctx) }()
	t.Cleanup(func() { // before the namespace handle is closed
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start: %v", err)
		}
	})

	wait := func(what string, limit time.Duration, ok func(Status) bool) Status {
		t.Helper()
		timer := time.NewTimer(limit)
		defer timer.Stop()
		for {
			select {
			case s := <-notes:
				if ok(s) {
					return s
				}
				t.Logf("notification while waiting for %s: %+v", what, s)
			case <-timer.C:
				t.Fatalf("no notification %s within %v; status %+v", what, limit, p.Status())
			}
		}
	}
	healthy := func(s Status) bool { return s.Healthy }
	linkDown := func(s Status) bool { return !s.Healthy && s.LinkDown && s.Reason == "link down" }
	// Immediate: well before the check could fall (Fall × Interval = 5 s).
	// The kernel's linkwatch reports a carrier change up to 1 s late.
	const immediate = 2500 * time.Millisecond

	wait("healthy at start", 5*time.Second, healthy)

	for _, step := range []struct{ name, ns, dev string }{
		{"administratively down", v.nsA, v.ifA},
		{"carrier lost", v.nsB, v.ifB},
	} {
		start := time.Now()
		run(t, "ip", "-n", step.ns, "link", "set", "dev", step.dev, "down")
		s := wait(step.name+": link down", immediate, linkDown)
		t.Logf("%s: unhealthy after %v", step.name, time.Since(start))
		if !s.Checks["icmp-0"] {
			t.Errorf("%s: the check fell too (%+v): the link must fail first, on its own", step.name, s)
		}
		run(t, "ip", "-n", step.ns, "link", "set", "dev", step.dev, "up")
		wait(step.name+": healthy again", 5*time.Second, healthy)
	}

	run(t, "ip", "-n", v.nsA, "link", "del", "dev", v.ifA)
	wait("link deleted: link down", immediate, linkDown)
	if s := p.Status(); s.Healthy || !s.LinkDown {
		t.Errorf("Status() after deleting the link = %+v", s)
	}
}
