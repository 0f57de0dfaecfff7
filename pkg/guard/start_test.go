package guard

import (
	"context"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"

	"github.com/vipkeeper/vipkeeper/internal/ether"
)

// startGuard runs g.Start in the bubble until the test ends, and waits until
// it has opened its listeners. The returned func cancels Start and returns
// its error.
func startGuard(t *testing.T, g *Guard) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- g.Start(ctx) }()
	synctest.Wait()
	stopped := false
	var err error
	stop := func() error {
		if !stopped {
			stopped = true
			cancel()
			err = <-done
		}
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// drain returns the claims queued on g without waiting.
func drain(g *Guard) []Claim {
	var out []Claim
	for {
		select {
		case c := <-g.Claims():
			out = append(out, c)
		default:
			return out
		}
	}
}

func garp(t testing.TB, mac net.HardwareAddr, a netip.Addr) []byte {
	return arpFrame(t, mac, arp.OperationRequest, mac, a, ether.ZeroMAC, a)
}

func TestStartReportsClaims(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		g := newTestGuard(f)
		stop := startGuard(t, g)
		g.Watch([]netip.Addr{vip4, vip6})

		f.send(t, garp(t, otherMAC, vip4))
		f.send(t, ndpFrame(t, otherMAC, unspec6, snm(t, vip6), 255, dadNS(vip6)))
		f.send(t, garp(t, ourMAC, vip4))        // our own: ignored
		f.send(t, garp(t, otherMAC, unwatched)) // not watched
		f.send(t, ndpFrame(t, otherMAC, vip6, allNodes, 255, na(vip6, tlla(thirdMAC))))
		synctest.Wait()

		want := []Claim{
			{vip4, otherMAC, KindAnnounce},
			{vip6, otherMAC, KindProbe},
			{vip6, thirdMAC, KindAnnounce},
		}
		// The ARP and IPv6 readers race; order does not matter.
		byAddrMAC := cmpopts.SortSlices(func(a, b Claim) bool {
			return a.Addr.Less(b.Addr) || a.Addr == b.Addr && a.MAC.String() < b.MAC.String()
		})
		if diff := cmp.Diff(want, drain(g), cmpAddr, byAddrMAC); diff != "" {
			t.Errorf("claims (-want +got):\n%s", diff)
		}
		if err := stop(); err != nil {
			t.Errorf("Start = %v, want nil", err)
		}
		for _, c := range f.allConns() {
			if !c.isClosed() {
				t.Errorf("%v conn left open", c.et)
			}
		}
		if diff := cmp.Diff(Stats{Reported: 3, Opens: 1}, g.Stats()); diff != "" {
			t.Errorf("stats (-want +got):\n%s", diff)
		}
	})
}

func TestWatchNilReportsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		g := newTestGuard(f)
		startGuard(t, g)

		f.send(t, garp(t, otherMAC, vip4)) // nothing watched yet
		g.Watch([]netip.Addr{vip4})
		g.Watch(nil)
		f.send(t, garp(t, otherMAC, vip4))
		f.send(t, arpFrame(t, otherMAC, arp.OperationRequest, otherMAC, unspec4, ether.ZeroMAC, vip4))
		synctest.Wait()
		if got := drain(g); len(got) != 0 {
			t.Errorf("claims after Watch(nil): %v", got)
		}
		if s := g.Stats(); s.Reported != 0 {
			t.Errorf("stats %+v", s)
		}
	})
}

func TestClaimsChannelNeverBlocksTheReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		g := newTestGuard(f)
		startGuard(t, g)
		g.Watch([]netip.Addr{vip4})

		// Nobody receives. deliver waits until the reader has taken each
		// frame, so if the reader blocked on the full channel, this loop
		// would deadlock the bubble.
		const extra = 10
		for range claimsBuffer + extra {
			f.send(t, garp(t, otherMAC, vip4))
		}
		synctest.Wait()
		if diff := cmp.Diff(Stats{Reported: claimsBuffer, Dropped: extra, Opens: 1}, g.Stats()); diff != "" {
			t.Errorf("stats (-want +got):\n%s", diff)
		}
		if n := len(drain(g)); n != claimsBuffer {
			t.Errorf("%d claims queued, want %d", n, claimsBuffer)
		}
		// Room again: reported again.
		f.send(t, garp(t, otherMAC, vip4))
		synctest.Wait()
		if n := len(drain(g)); n != 1 {
			t.Errorf("%d claims after draining, want 1", n)
		}
	})
}

func TestStartReopensAfterReadErrorWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		g := newTestGuard(f)
		startGuard(t, g)
		g.Watch([]netip.Addr{vip4})
		first := f.latest(ethernet.EtherTypeARP)

		f.link.Fail(errInjected) // reopening fails
		start := time.Now()
		f.fail(t, ethernet.EtherTypeIPv6, errInjected)
		synctest.Wait()
		if !first.isClosed() {
			t.Fatal("old listeners not closed after a read error")
		}
		// Failed attempts at +100ms, +300ms, +700ms, ... up to maxBackoff.
		time.Sleep(1500*time.Millisecond - time.Nanosecond)
		synctest.Wait()
		if s := g.Stats(); s.Errors != 4 || s.Opens != 1 {
			t.Errorf("after 1.5s of failures: stats %+v, want 4 errors, 1 open", s)
		}
		f.link.Fail(nil)
		time.Sleep(time.Nanosecond) // the attempt at +1.5s
		synctest.Wait()
		if s := g.Stats(); s.Opens != 2 {
			t.Fatalf("stats %+v, want a reopen %v after the error", s, time.Since(start))
		}
		f.send(t, garp(t, otherMAC, vip4))
		synctest.Wait()
		if got := drain(g); len(got) != 1 {
			t.Errorf("claims after reopening: %v", got)
		}
	})
}

func TestStartKeepsListeningThroughLinkDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		g := newTestGuard(f)
		startGuard(t, g)
		g.Watch([]netip.Addr{vip4})

		f.fail(t, ethernet.EtherTypeARP, syscall.ENETDOWN)
		f.send(t, garp(t, otherMAC, vip4))
		synctest.Wait()
		if got := drain(g); len(got) != 1 {
			t.Errorf("claims after ENETDOWN: %v", got)
		}
		if s := g.Stats(); s.Opens != 1 || s.Errors != 0 {
			t.Errorf("stats %+v: reopened on ENETDOWN", s)
		}
		// A stream of them is an error.
		for range maxLinkDownErrors + 1 {
			f.fail(t, ethernet.EtherTypeARP, syscall.ENETDOWN)
		}
		synctest.Wait()
		if s := g.Stats(); s.Errors != 1 {
			t.Errorf("stats %+v, want 1 error after %d ENETDOWN", s, maxLinkDownErrors+1)
		}
	})
}

func TestStartReopensWhenTheInterfaceChanges(t *testing.T) {
	for name, change := range map[string]func(ifi *net.Interface){
		"re-created": func(ifi *net.Interface) { ifi.Index = 8 },
		"new mac":    func(ifi *net.Interface) { ifi.HardwareAddr = thirdMAC },
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeNet()
				g := newTestGuard(f)
				startGuard(t, g)
				g.Watch([]netip.Addr{vip4})
				first := f.latest(ethernet.EtherTypeARP)

				f.link.Update(change)
				time.Sleep(linkCheckInterval)
				synctest.Wait()
				if !first.isClosed() {
					t.Fatal("listeners not closed after the interface changed")
				}
				time.Sleep(minBackoff)
				synctest.Wait()
				if s := g.Stats(); s.Opens != 2 {
					t.Fatalf("stats %+v, want a reopen", s)
				}
				// After a MAC change, frames from the old MAC are claims.
				f.send(t, garp(t, ourMAC, vip4))
				synctest.Wait()
				want := 0
				if name == "new mac" {
					want = 1
				}
				if got := drain(g); len(got) != want {
					t.Errorf("claims from the old MAC: %v, want %d", got, want)
				}
			})
		})
	}
}

func TestStartJoinsSolicitedNodeGroups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		g := newTestGuard(f)
		startGuard(t, g)
		mc := f.groups(0)

		// 2001:db8::100 and 2001:db8:1::100 share a group.
		g.Watch([]netip.Addr{vip4, vip6, netip.MustParseAddr("2001:db8:1::100"), vip6b})
		synctest.Wait()
		want := []netip.Addr{snm(t, vip6), snm(t, vip6b)}
		less := func(a, b netip.Addr) bool { return a.Less(b) }
		if diff := cmp.Diff(want, mc.groups(), cmpAddr, cmpopts.SortSlices(less)); diff != "" {
			t.Errorf("groups (-want +got):\n%s", diff)
		}
		g.Watch([]netip.Addr{vip4})
		synctest.Wait()
		if got := mc.groups(); len(got) != 0 {
			t.Errorf("groups after unwatching IPv6: %v", got)
		}
	})
}

func TestStartWithoutIPv6GroupsStillGuardsIPv4(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		f.groupErr = errInjected
		g := newTestGuard(f)
		startGuard(t, g)
		g.Watch([]netip.Addr{vip4, vip6})
		f.send(t, garp(t, otherMAC, vip4))
		synctest.Wait()
		if got := drain(g); len(got) != 1 {
			t.Errorf("claims: %v", got)
		}
	})
}

func TestWatchNormalizes(t *testing.T) {
	g := New(Config{Interface: "vk0"}, nil)
	g.Watch([]netip.Addr{
		netip.MustParseAddr("::ffff:192.0.2.100"), vip4, {},
		netip.MustParseAddr("2001:db8::100%vk0"), unspec4, netip.MustParseAddr("ff02::1"),
	})
	want := newAddrSet([]netip.Addr{vip4, vip6})
	if diff := cmp.Diff(want, *g.watched.Load(), cmpAddr); diff != "" {
		t.Errorf("watched (-want +got):\n%s", diff)
	}
}
