package guard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"

	"github.com/vipkeeper/vipkeeper/internal/ether"
)

// holderAnswers returns a responder that answers our probes the way the
// holder's Linux kernel does: a unicast ARP reply from the VIP to our MAC
// and 0.0.0.0, and a Neighbor Advertisement from the VIP to ff02::1 with
// Override set and a Target Link-Layer Address option.
func holderAnswers(t testing.TB, holder net.HardwareAddr, held ...netip.Addr) func([]byte) [][]byte {
	return func(frame []byte) [][]byte {
		c, reason := classify(frame, holder, newAddrSet(held))
		if reason != dropNone || c.Kind != KindProbe {
			return nil
		}
		if c.Addr.Is4() {
			return [][]byte{arpFrame(t, holder, arp.OperationReply, holder, c.Addr, c.MAC, unspec4)}
		}
		return [][]byte{ndpFrame(t, holder, c.Addr, allNodes, 255, na(c.Addr, tlla(holder)))}
	}
}

// probe runs g.Probe and returns its result and how long it took.
func probe(ctx context.Context, g *Guard, addrs []netip.Addr, wait time.Duration) ([]Claim, time.Duration, error) {
	start := time.Now()
	claims, err := g.Probe(ctx, addrs, wait)
	return claims, time.Since(start), err
}

// checkAllClosed runs inside a synctest bubble: Probe closes its sockets
// in the background, so wait for that before looking.
func checkAllClosed(t *testing.T, f *fakeNet) {
	t.Helper()
	synctest.Wait()
	for _, c := range f.allConns() {
		if !c.isClosed() {
			t.Errorf("%v conn left open", c.et)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, g := range f.groupSets {
		if !g.closed {
			t.Error("group conn left open")
		}
	}
}

func TestProbeFindsTheHolder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		f.answer = holderAnswers(t, otherMAC, vip4, vip6)
		g := newTestGuard(f)

		claims, took, err := probe(t.Context(), g, []netip.Addr{vip6, vip4}, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		want := []Claim{{vip4, otherMAC, KindReply}, {vip6, otherMAC, KindReply}}
		if diff := cmp.Diff(want, claims, cmpAddr); diff != "" {
			t.Errorf("claims (-want +got):\n%s", diff)
		}
		if took != 100*time.Millisecond {
			t.Errorf("Probe took %v, want the full wait", took)
		}
		if got := f.groups(0).groups(); len(got) != 1 || got[0] != snm(t, vip6) {
			t.Errorf("joined groups %v, want %s", got, snm(t, vip6))
		}
		checkAllClosed(t, f)
	})
}

func TestProbeFree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		f.answer = holderAnswers(t, otherMAC, vip4b) // holds something else
		g := newTestGuard(f)

		claims, took, err := probe(t.Context(), g, []netip.Addr{vip4, vip6}, time.Second)
		if err != nil || len(claims) != 0 {
			t.Errorf("Probe = %v, %v; want none, nil", claims, err)
		}
		if took != time.Second {
			t.Errorf("Probe took %v, want the full wait", took)
		}
		var sent int
		for _, c := range f.allConns() {
			sent += len(c.written)
		}
		if sent != 2 {
			t.Errorf("%d frames sent, want one per address", sent)
		}
		checkAllClosed(t, f)
	})
}

func TestProbeIgnoresOwnFramesAndDeduplicates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		holder := holderAnswers(t, otherMAC, vip4)
		f.answer = func(frame []byte) [][]byte {
			out := [][]byte{frame} // our probe, reflected back
			out = append(out, holder(frame)...)
			out = append(out, holder(frame)...)
			out = append(out, garp(t, thirdMAC, vip4))                                                             // a second claimant
			out = append(out, arpFrame(t, thirdMAC, arp.OperationRequest, thirdMAC, unspec4, ether.ZeroMAC, vip4)) // also probing
			out = append(out, garp(t, thirdMAC, vip4b))                                                            // not probed
			return out
		}
		g := newTestGuard(f)

		claims, _, err := probe(t.Context(), g, []netip.Addr{vip4}, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		want := []Claim{
			{vip4, otherMAC, KindReply},
			{vip4, thirdMAC, KindProbe},
			{vip4, thirdMAC, KindReply},
		}
		if diff := cmp.Diff(want, claims, cmpAddr); diff != "" {
			t.Errorf("claims (-want +got):\n%s", diff)
		}
	})
}

func TestProbeOpensOnlyWhatItNeeds(t *testing.T) {
	for name, tc := range map[string]struct {
		addrs      []netip.Addr
		wantConns  []ethernet.EtherType
		wantGroups int
	}{
		"ipv4 only": {[]netip.Addr{vip4}, []ethernet.EtherType{ethernet.EtherTypeARP}, 0},
		"ipv6 only": {[]netip.Addr{vip6}, []ethernet.EtherType{ethernet.EtherTypeIPv6}, 1},
		"nothing":   {nil, nil, 0},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeNet()
				g := newTestGuard(f)
				if _, err := g.Probe(t.Context(), tc.addrs, time.Millisecond); err != nil {
					t.Fatal(err)
				}
				var got []ethernet.EtherType
				for _, c := range f.allConns() {
					got = append(got, c.et)
				}
				if diff := cmp.Diff(tc.wantConns, got); diff != "" {
					t.Errorf("opened (-want +got):\n%s", diff)
				}
				if n := len(f.groupSets); n != tc.wantGroups {
					t.Errorf("%d group conns, want %d", n, tc.wantGroups)
				}
			})
		})
	}
}

func TestProbeWithoutGroupsStillProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		f.groupErr = errInjected
		f.answer = holderAnswers(t, otherMAC, vip6)
		g := newTestGuard(f)
		claims, _, err := probe(t.Context(), g, []netip.Addr{vip6}, 100*time.Millisecond)
		if err != nil || len(claims) != 1 {
			t.Errorf("Probe = %v, %v; want the holder's answer", claims, err)
		}
	})
}

func TestProbeErrors(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for name, tc := range map[string]struct {
		setup   func(f *fakeNet)
		ctx     context.Context
		wait    time.Duration
		wantErr error
	}{
		"zero wait":          {wait: 0, wantErr: errBadWait},
		"no interface":       {setup: func(f *fakeNet) { f.link.Fail(errInjected) }, wantErr: errInjected},
		"no hardware addr":   {setup: func(f *fakeNet) { f.link.Update(func(ifi *net.Interface) { ifi.HardwareAddr = nil }) }, wantErr: ether.ErrNoHardwareAddr},
		"open fails":         {setup: func(f *fakeNet) { f.openErr = errInjected }, wantErr: errInjected},
		"write fails":        {setup: func(f *fakeNet) { f.writeErr = errInjected }, wantErr: errInjected},
		"context done first": {ctx: cancelled, wantErr: context.Canceled},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeNet()
				if tc.setup != nil {
					tc.setup(f)
				}
				ctx := tc.ctx
				if ctx == nil {
					ctx = t.Context()
				}
				wait := tc.wait
				if name != "zero wait" {
					wait = time.Second
				}
				_, took, err := probe(ctx, newTestGuard(f), []netip.Addr{vip4, vip6}, wait)
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("Probe error = %v, want %v", err, tc.wantErr)
				}
				if took != 0 {
					t.Errorf("failed Probe took %v, want no wait", took)
				}
				checkAllClosed(t, f)
			})
		})
	}
}

func TestProbeReturnsWhenContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		f.answer = holderAnswers(t, otherMAC, vip4)
		g := newTestGuard(f)
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()

		claims, took, err := probe(ctx, g, []netip.Addr{vip4, vip6}, 10*time.Second)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Probe error = %v, want %v", err, context.DeadlineExceeded)
		}
		if took != 300*time.Millisecond {
			t.Errorf("Probe took %v, want until ctx ended", took)
		}
		// The claims heard so far come back with the error.
		if want := []Claim{{vip4, otherMAC, KindReply}}; !cmp.Equal(want, claims, cmpAddr) {
			t.Errorf("claims = %v, want %v", claims, want)
		}
		checkAllClosed(t, f)
	})
}

func TestProbeReadError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		g := newTestGuard(f)
		done := make(chan error, 1)
		go func() {
			_, err := g.Probe(t.Context(), []netip.Addr{vip4}, time.Second)
			done <- err
		}()
		synctest.Wait()
		f.fail(t, ethernet.EtherTypeARP, errInjected)
		if err := <-done; !errors.Is(err, errInjected) {
			t.Errorf("Probe error = %v, want %v", err, errInjected)
		}
	})
}
