//go:build linux

package guard

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipkeeper/vipkeeper/internal/netnstest"
	"github.com/vipkeeper/vipkeeper/pkg/announce"
)

// Only documentation addresses, on a veth pair that exists only inside the
// two test namespaces.
var (
	itVIP4 = netip.MustParseAddr("192.0.2.100")
	itVIP6 = netip.MustParseAddr("2001:db8::100")
)

// lab is two network namespaces joined by a veth pair: A holds the VIPs,
// B does not.
type lab struct {
	*netnstest.Pair
	macA, macB net.HardwareAddr
}

// TestIntegrationProbeAndGuard checks against real Linux kernels that
// (1) the holder's kernel answers both probes, (2) nobody answers once the
// VIPs are gone, and (3) a Guard on the holder reports the other node's
// probes and announcements, also after a link flap, and nothing once it
// watches nothing.
func TestIntegrationProbeAndGuard(t *testing.T) {
	l := newLab(t)
	vips := []netip.Addr{itVIP4, itVIP6}
	logB := testLogger(t, "B")

	probeB := func(t *testing.T) []Claim {
		t.Helper()
		var claims []Claim
		err := l.B.Do(func() error {
			var err error
			claims, err = New(Config{Interface: l.IfB}, logB).Probe(t.Context(), vips, 100*time.Millisecond)
			return err
		})
		if err != nil {
			t.Fatalf("Probe from B: %v", err)
		}
		t.Logf("Probe from B: %v", claims)
		return claims
	}

	t.Run("holder's kernel answers both probes", func(t *testing.T) {
		want := []Claim{
			{Addr: itVIP4, MAC: l.macA, Kind: KindReply},
			{Addr: itVIP6, MAC: l.macA, Kind: KindReply},
		}
		if diff := cmp.Diff(want, probeB(t), cmpAddr); diff != "" {
			t.Errorf("Probe from B (-want +got):\n%s", diff)
		}
	})

	t.Run("nobody answers once the VIPs are gone", func(t *testing.T) {
		l.delVIPs(t)
		defer l.addVIPs(t)
		if got := probeB(t); len(got) != 0 {
			t.Errorf("Probe from B = %v, want none", got)
		}
	})

	t.Run("probe works without an IPv4 address on the interface", func(t *testing.T) {
		l.B.IP(t, "addr", "del", "192.0.2.2/24", "dev", l.IfB)
		defer l.B.IP(t, "addr", "add", "192.0.2.2/24", "dev", l.IfB)
		want := []Claim{
			{Addr: itVIP4, MAC: l.macA, Kind: KindReply},
			{Addr: itVIP6, MAC: l.macA, Kind: KindReply},
		}
		if diff := cmp.Diff(want, probeB(t), cmpAddr); diff != "" {
			t.Errorf("Probe from B (-want +got):\n%s", diff)
		}
	})

	t.Run("guard reports probes and announcements", func(t *testing.T) {
		g := l.startGuard(t)

		// Watching joins the VIP's solicited-node group even while the
		// VIP is not bound (when it is, the kernel joins it too).
		l.delVIPs(t)
		if out := l.A.IP(t, "maddr", "show", "dev", l.IfA); strings.Contains(out, "ff02::1:ff00:100") {
			t.Fatalf("A is in ff02::1:ff00:100 before watching:\n%s", out)
		}
		g.Watch(vips)
		netnstest.WaitFor(t, 3*time.Second, "A joins ff02::1:ff00:100 while the VIP is unbound", func() (bool, string) {
			out := l.A.IP(t, "maddr", "show", "dev", l.IfA)
			return strings.Contains(out, "ff02::1:ff00:100"), out
		})
		l.addVIPs(t)

		_ = probeB(t)
		expectClaims(t, g, []Claim{
			{Addr: itVIP4, MAC: l.macB, Kind: KindProbe},
			{Addr: itVIP6, MAC: l.macB, Kind: KindProbe},
		})

		err := l.B.Do(func() error {
			a := announce.New(announce.Config{Interface: l.IfB, BurstCount: 1}, logB)
			a.Announce(vips, vips)
			a.Withdraw()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		expectClaims(t, g, []Claim{
			{Addr: itVIP4, MAC: l.macB, Kind: KindAnnounce},
			{Addr: itVIP6, MAC: l.macB, Kind: KindAnnounce},
		})

		// The kernel reports ENETDOWN on the sockets; they must keep
		// working once the link is back.
		l.A.IP(t, "link", "set", l.IfA, "down")
		l.A.IP(t, "link", "set", l.IfA, "up")
		waitLinkUp(t, l.A, l.IfA)
		waitLinkUp(t, l.B, l.IfB)
		// With net.ipv6.conf.*.keep_addr_on_down=0 (the default) the
		// kernel flushed the IPv6 VIP with the link; the binder re-adds
		// it. The IPv4 VIP survives.
		l.A.IP(t, "addr", "replace", itVIP6.String()+"/128", "dev", l.IfA, "nodad", "preferred_lft", "0")
		want := []Claim{
			{Addr: itVIP4, MAC: l.macA, Kind: KindReply},
			{Addr: itVIP6, MAC: l.macA, Kind: KindReply},
		}
		if diff := cmp.Diff(want, probeB(t), cmpAddr); diff != "" {
			t.Errorf("Probe from B after the flap (-want +got):\n%s", diff)
		}
		expectClaims(t, g, []Claim{
			{Addr: itVIP4, MAC: l.macB, Kind: KindProbe},
			{Addr: itVIP6, MAC: l.macB, Kind: KindProbe},
		})

		g.Watch(nil)
		_ = probeB(t)
		select {
		case c := <-g.Claims():
			t.Errorf("claim %v after Watch(nil)", c)
		case <-time.After(300 * time.Millisecond):
		}
		if s := g.Stats(); s.Dropped != 0 {
			t.Errorf("stats %+v: claims dropped", s)
		}
	})
}

// expectClaims reads g's claims until every one in want was seen, for at
// most 3 s and 100 claims. Duplicates (both ARP forms, several
// announcements) are fine.
func expectClaims(t *testing.T, g *Guard, want []Claim) {
	t.Helper()
	missing := make(map[string]Claim, len(want))
	for _, c := range want {
		missing[claimKey(c)] = c
	}
	var got []Claim
	timeout := time.After(3 * time.Second)
	for i := 0; i < 100 && len(missing) > 0; i++ {
		select {
		case c := <-g.Claims():
			got = append(got, c)
			delete(missing, claimKey(c))
		case <-timeout:
			t.Fatalf("timed out; still missing %v; got %v", missing, got)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("still missing %v after %d claims: %v", missing, len(got), got)
	}
	// Let stragglers of the same burst arrive, then drop them.
	time.Sleep(100 * time.Millisecond)
	for i := 0; i < claimsBuffer; i++ {
		select {
		case <-g.Claims():
		default:
			return
		}
	}
}

func claimKey(c Claim) string { return fmt.Sprintf("%s %s %s", c.Addr, c.MAC, c.Kind) }

func newLab(t *testing.T) *lab {
	t.Helper()
	netnstest.RequireRoot(t, "creates network namespaces")
	l := &lab{Pair: netnstest.NewPair(t, "vkguard")}
	sides := []struct {
		ns     *netnstest.NS
		ifname string
		mac    *net.HardwareAddr
	}{{l.A, l.IfA, &l.macA}, {l.B, l.IfB, &l.macB}}
	for _, side := range sides {
		side.ns.Sysctl(t, "net.ipv6.conf."+side.ifname+".accept_dad", "0")
	}
	l.A.IP(t, "addr", "add", "192.0.2.1/24", "dev", l.IfA)
	l.A.IP(t, "addr", "add", "2001:db8::1/64", "dev", l.IfA, "nodad")
	l.B.IP(t, "addr", "add", "192.0.2.2/24", "dev", l.IfB)
	l.B.IP(t, "addr", "add", "2001:db8::2/64", "dev", l.IfB, "nodad")
	l.addVIPs(t)
	l.A.IP(t, "link", "set", l.IfA, "up")
	l.B.IP(t, "link", "set", l.IfB, "up")
	waitLinkUp(t, l.A, l.IfA)
	waitLinkUp(t, l.B, l.IfB)

	for _, side := range sides {
		err := side.ns.Do(func() error {
			ifi, err := net.InterfaceByName(side.ifname)
			if err != nil {
				return err
			}
			*side.mac = ifi.HardwareAddr
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// addVIPs binds the VIPs in A the way pkg/vip does: host prefix, never
// preferred as a source (deprecated), IPv6 without DAD.
func (l *lab) addVIPs(t *testing.T) {
	t.Helper()
	l.A.IP(t, "addr", "add", itVIP4.String()+"/32", "dev", l.IfA, "preferred_lft", "0")
	l.A.IP(t, "addr", "add", itVIP6.String()+"/128", "dev", l.IfA, "nodad", "preferred_lft", "0")
}

func (l *lab) delVIPs(t *testing.T) {
	t.Helper()
	l.A.IP(t, "addr", "del", itVIP4.String()+"/32", "dev", l.IfA)
	l.A.IP(t, "addr", "del", itVIP6.String()+"/128", "dev", l.IfA)
}

// startGuard runs a Guard in A until the test ends, and waits until its
// listeners are open.
func (l *lab) startGuard(t *testing.T) *Guard {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	g := New(Config{Interface: l.IfA}, testLogger(t, "A"))
	done := make(chan error, 1)
	go func() { done <- l.A.Do(func() error { return g.Start(ctx) }) }()
	t.Cleanup(func() { // before the namespaces are deleted
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start: %v", err)
		}
	})
	netnstest.WaitFor(t, 3*time.Second, "the guard to open its listeners", func() (bool, string) {
		s := g.Stats()
		return s.Opens > 0, fmt.Sprintf("%+v", s)
	})
	return g
}
