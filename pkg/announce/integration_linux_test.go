//go:build linux

package announce

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/netnstest"
)

// TestIntegrationUpdatesNeighbourCaches runs a real Announcer in namespace A
// and checks that namespace B's stale neighbour entries for the VIPs move to
// A's MAC. Only documentation addresses are used, on a veth pair that exists
// only inside the two test namespaces.
func TestIntegrationUpdatesNeighbourCaches(t *testing.T) {
	netnstest.RequireRoot(t, "creates network namespaces")
	t.Run("link-local source", func(t *testing.T) { testIntegration(t, false) })
	// With DAD on, A's link-local address is still tentative right after the
	// link comes up, so the NA socket binds to the (nodad) VIP instead.
	t.Run("tentative link-local", func(t *testing.T) { testIntegration(t, true) })
}

func testIntegration(t *testing.T, dadOnA bool) {
	p := netnstest.NewPair(t, "vkann")
	a, b, ifA, ifB := p.A, p.B, p.IfA, p.IfB
	const (
		vip4   = "192.0.2.100"
		vip6   = "2001:db8::100"
		fakeHW = "02:00:00:00:00:99"
	)

	// Without DAD the link-local address is usable at once.
	b.Sysctl(t, "net.ipv6.conf."+ifB+".accept_dad", "0")
	if !dadOnA {
		a.Sysctl(t, "net.ipv6.conf."+ifA+".accept_dad", "0")
	}
	a.IP(t, "addr", "add", "192.0.2.1/24", "dev", ifA)
	a.IP(t, "addr", "add", "2001:db8::1/64", "dev", ifA, "nodad")
	a.IP(t, "addr", "add", vip4+"/32", "dev", ifA)
	a.IP(t, "addr", "add", vip6+"/128", "dev", ifA, "nodad")
	b.IP(t, "addr", "add", "192.0.2.2/24", "dev", ifB)
	b.IP(t, "addr", "add", "2001:db8::2/64", "dev", ifB, "nodad")
	a.IP(t, "link", "set", ifA, "up")
	b.IP(t, "link", "set", ifB, "up")
	netnstest.WaitFor(t, 3*time.Second, "link up in B", func() (bool, string) {
		out := b.IP(t, "link", "show", ifB)
		return strings.Contains(out, "LOWER_UP"), out
	})

	b.IP(t, "neigh", "replace", vip4, "lladdr", fakeHW, "dev", ifB, "nud", "stale")
	b.IP(t, "neigh", "replace", vip6, "lladdr", fakeHW, "dev", ifB, "nud", "stale")

	// Everything that opens sockets or looks up the link runs on a thread
	// in A (see netnstest.NS.Do).
	ctx, cancel := context.WithCancel(t.Context())
	type result struct {
		mac   net.HardwareAddr
		stats map[StatsKey]Counts
		err   error
	}
	ready := make(chan net.HardwareAddr, 1)
	done := make(chan result, 1)
	go func() {
		var res result
		res.err = a.Do(func() error {
			ifi, err := net.InterfaceByName(ifA)
			if err != nil {
				return err
			}
			an := New(Config{Interface: ifA, RefreshInterval: time.Second},
				slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})))
			takeover(an, netip.MustParseAddr(vip4), netip.MustParseAddr(vip6))
			ready <- ifi.HardwareAddr
			err = an.Start(ctx)
			res.mac, res.stats = ifi.HardwareAddr, an.Stats()
			return err
		})
		done <- res
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
		t.Fatalf("announcer in %s: %v", a.Name, res.err)
	}

	for _, vip := range []string{vip4, vip6} {
		netnstest.WaitFor(t, 3*time.Second, "neighbour "+vip+" in B has A's MAC", func() (bool, string) {
			out := b.IP(t, "neigh", "show", vip, "dev", ifB)
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

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

var _ io.Writer = testWriter{}
