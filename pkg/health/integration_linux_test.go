//go:build linux

package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vipkeeper/vipkeeper/internal/netnstest"
)

// The integration tests build two network namespaces of their own joined by
// a veth pair, A (192.0.2.1/24, 2001:db8::1/64) ↔ B (192.0.2.2/24,
// 2001:db8::2/64), and run the real prober code inside A. Only documentation
// addresses are used and no traffic leaves the two namespaces.

// vethPair is the test network.
type vethPair struct{ *netnstest.Pair }

func newVethPair(t *testing.T) *vethPair {
	t.Helper()
	netnstest.RequireRoot(t, "creates network namespaces and raw ICMP sockets")
	v := &vethPair{netnstest.NewPair(t, "vkhealth")}
	for _, x := range []struct {
		ns          *netnstest.NS
		dev, v4, v6 string
	}{{v.A, v.IfA, "192.0.2.1/24", "2001:db8::1/64"}, {v.B, v.IfB, "192.0.2.2/24", "2001:db8::2/64"}} {
		x.ns.Sysctl(t, "net.ipv6.conf."+x.dev+".accept_dad", "0")
		x.ns.IP(t, "addr", "add", x.v4, "dev", x.dev)
		x.ns.IP(t, "addr", "add", x.v6, "dev", x.dev, "nodad")
		x.ns.IP(t, "link", "set", x.dev, "up")
	}
	v.waitUp(t, v.A, v.IfA, true)
	v.waitUp(t, v.B, v.IfB, true)
	return v
}

// waitUp waits until a link's operational state is (or is no longer) UP.
// The kernel's linkwatch work sets it, up to a second after a carrier
// change, when it also lets the link transmit.
func (v *vethPair) waitUp(t *testing.T, ns *netnstest.NS, dev string, want bool) {
	t.Helper()
	what := fmt.Sprintf("%s in %s: state UP to become %v", dev, ns.Name, want)
	netnstest.WaitFor(t, 5*time.Second, what, func() (bool, string) {
		out := ns.IP(t, "link", "show", dev)
		return strings.Contains(out, " state UP ") == want, out
	})
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
		err = v.A.Do(func() error {
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

	v.B.IP(t, "link", "set", v.IfB, "down")
	v.waitUp(t, v.A, v.IfA, false)
	for _, peer := range []string{"192.0.2.2", "2001:db8::2"} {
		if err := ping(peer); err == nil {
			t.Errorf("ping %s succeeded with the peer's link down", peer)
		} else {
			t.Logf("ping %s with the peer's link down: %s", peer, ShortReason(err))
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
		Interface: v.IfA,
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
		return func(ctx context.Context) error { return v.A.Do(func() error { return probe(ctx) }) }, err
	}
	p, err := newProber(cfg, notify, log, inA, &netlinkWatcher{ns: v.A.Handle(), log: log})
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
				t.Fatalf("no notification %s within %v", what, limit)
			}
		}
	}
	healthy := func(s Status) bool { return s.Healthy }
	linkDown := func(s Status) bool { return !s.Healthy && s.LinkDown && s.Reason == "link down" }
	// Immediate: well before the check could fall (Fall × Interval = 5 s).
	// The kernel's linkwatch reports a carrier change up to 1 s late.
	const immediate = 2500 * time.Millisecond

	wait("healthy at start", 5*time.Second, healthy)

	for _, step := range []struct {
		name string
		ns   *netnstest.NS
		dev  string
	}{
		{"administratively down", v.A, v.IfA},
		{"carrier lost", v.B, v.IfB},
	} {
		start := time.Now()
		step.ns.IP(t, "link", "set", "dev", step.dev, "down")
		s := wait(step.name+": link down", immediate, linkDown)
		t.Logf("%s: unhealthy after %v", step.name, time.Since(start))
		if !s.Checks["icmp-0"] {
			t.Errorf("%s: the check fell too (%+v): the link must fail first, on its own", step.name, s)
		}
		step.ns.IP(t, "link", "set", "dev", step.dev, "up")
		wait(step.name+": healthy again", 5*time.Second, healthy)
	}

	v.A.IP(t, "link", "del", "dev", v.IfA)
	wait("link deleted: link down", immediate, linkDown)
}
