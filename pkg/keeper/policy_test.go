package keeper

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipkeeper/vipkeeper/pkg/election"
)

var otherMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x22}

func check(t *testing.T, h *harness, want []string) {
	t.Helper()
	synctest.Wait()
	if diff := cmp.Diff(want, h.calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// win makes the harness leader at the current fake time.
func win(h *harness, term uint64) {
	h.Notify(renewed(time.Now()))
	h.Notify(ev(election.Elected, term))
}

// TestShutdownOrder: on shutdown the VIP is withdrawn and unbound before the
// election is stopped (which releases the lease), so a peer that takes the
// released lease never overlaps with us.
func TestShutdownOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, baseConfig, false)
		win(h, 1)
		synctest.Wait() // the loop has taken over before the shutdown
		h.stop(t)
		check(t, h, []string{"bind 2", "announce", "withdraw", "bind 0", "release"})
		// Senders never block once the loop has stopped.
		h.Notify(ev(election.Elected, 3))
		h.Restored(vips[0])
		h.Health(false, "x")
	})
}

func TestUnhealthyStepsDownAndRejoins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, baseConfig, false)
		win(h, 1)
		h.Health(false, "check http-0 failing")
		check(t, h, []string{"bind 2", "announce", "withdraw", "bind 0", "candidate false"})
		h.Health(true, "")
		check(t, h, []string{"bind 2", "announce", "withdraw", "bind 0", "candidate false", "candidate true"})
		h.stop(t)
	})
}

func TestStartsUnhealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := baseConfig
		cfg.Healthy = false
		r := &recorder{}
		k := New(cfg, Deps{Binder: r, Announcer: r, Election: r, Elect: r.run}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- k.Start(ctx) }()
		synctest.Wait()
		if calls, _ := r.snapshot(); calls[0] != "candidate false" {
			t.Errorf("first call = %q, want the candidacy withheld", calls[0])
		}
		cancel()
		<-done
	})
}

// TestSafetyDeadline: with policy release, a holder whose renewals stopped
// succeeding unbinds at last renewal + lease duration − margin, even if
// client-go has not yet given up the term.
func TestSafetyDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, baseConfig, false)
		win(h, 1)
		time.Sleep(4400 * time.Millisecond)
		check(t, h, []string{"bind 2", "announce"})
		time.Sleep(100 * time.Millisecond)
		check(t, h, []string{"bind 2", "announce", "withdraw", "bind 0"})
		h.stop(t)
	})
}

func TestRenewalsMoveTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, baseConfig, false)
		win(h, 1)
		for range 20 {
			time.Sleep(time.Second)
			h.Notify(renewed(time.Now()))
		}
		check(t, h, []string{"bind 2", "announce"})
		h.stop(t)
	})
}

// startHolding starts a keeper with --api-outage=hold that has just won
// term 1.
func startHolding(t *testing.T) *harness {
	cfg := baseConfig
	cfg.OnOutage = Hold
	h := start(t, cfg, false)
	win(h, 1)
	return h
}

// TestHoldRidesThroughOutage: with policy hold and the API unreachable, the
// holder keeps the VIP past its lease, and yields the moment another node
// claims the VIP on the wire.
func TestHoldRidesThroughOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHolding(t)
		h.APIReachable(false)
		time.Sleep(4 * time.Second)
		h.Notify(ev(election.Lost, 1))
		time.Sleep(30 * time.Second)
		check(t, h, []string{"bind 2", "announce"})
		h.Claimed(vips[0], otherMAC, "probe")
		check(t, h, []string{"bind 2", "announce", "withdraw", "bind 0"})
		h.stop(t)
	})
}

// TestHoldRecovers: the API comes back; the holder renews its own lease
// and keeps the VIP without a gap.
func TestHoldRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHolding(t)
		h.APIReachable(false)
		time.Sleep(4 * time.Second)
		h.Notify(ev(election.Lost, 1))
		time.Sleep(26 * time.Second)
		h.APIReachable(true)
		time.Sleep(time.Second)
		win(h, 2)
		for range 10 {
			time.Sleep(time.Second)
			h.Notify(renewed(time.Now()))
		}
		check(t, h, []string{"bind 2", "announce", "announce"})
		h.stop(t)
	})
}

// TestHoldGivesUpWithoutRenewal: the API is back but the holder cannot
// renew within the renew deadline (another node has the lease): unbind.
func TestHoldGivesUpWithoutRenewal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHolding(t)
		h.APIReachable(false)
		time.Sleep(5 * time.Second)
		h.Notify(ev(election.Lost, 1))
		h.APIReachable(true)
		time.Sleep(2900 * time.Millisecond)
		check(t, h, []string{"bind 2", "announce"})
		time.Sleep(200 * time.Millisecond)
		check(t, h, []string{"bind 2", "announce", "withdraw", "bind 0"})
		h.stop(t)
	})
}

// TestHoldYieldsToNewLeader: riding through, the holder learns that
// another node holds the lease.
func TestHoldYieldsToNewLeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHolding(t)
		h.APIReachable(false)
		time.Sleep(5 * time.Second)
		h.Notify(ev(election.Lost, 1))
		h.Notify(election.Event{Kind: election.Leader, Identity: "n2"})
		check(t, h, []string{"bind 2", "announce", "withdraw", "bind 0"})
		h.stop(t)
	})
}

// TestHoldNeedsTheAPIDown: policy hold, but the API answers: a holder
// that cannot renew (someone else took the lease) drops the VIP in time.
func TestHoldNeedsTheAPIDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHolding(t)
		time.Sleep(4500 * time.Millisecond)
		check(t, h, []string{"bind 2", "announce", "withdraw", "bind 0"})
		h.stop(t)
	})
}

// TestClaimWhileLeaseValid: a claim against a valid lease is answered with
// announcements, not by yielding.
func TestClaimWhileLeaseValid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, baseConfig, false)
		win(h, 1)
		h.Claimed(vips[0], otherMAC, "announce")
		check(t, h, []string{"bind 2", "announce", "announce"})
		h.stop(t)
	})
}

// TestProbeBeforeBind: a new leader binds only once nobody else answers for
// the VIP (the old holder has yielded).
func TestProbeBeforeBind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := baseConfig
		cfg.ProbeWait, cfg.ProbeBudget = 30*time.Millisecond, time.Second
		h := start(t, cfg, true)
		h.r.holders = [][]net.HardwareAddr{{otherMAC}, {otherMAC}}
		win(h, 1)
		time.Sleep(2 * time.Second)
		check(t, h, []string{"probe", "probe", "probe", "bind 2", "announce"})
		h.stop(t)
	})
}

func TestProbeBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := baseConfig
		cfg.ProbeWait, cfg.ProbeBudget = 100*time.Millisecond, 250*time.Millisecond
		h := start(t, cfg, true)
		for range 100 {
			h.r.holders = append(h.r.holders, []net.HardwareAddr{otherMAC})
		}
		win(h, 1)
		time.Sleep(6 * time.Second)
		// The probe is a fence: it waits past its budget for as long as an
		// earlier holder's kernel can keep the VIP (lease 5 s − margin
		// 500 ms), 45 rounds of 100 ms, then binds over whoever answers.
		var want []string
		for range 45 {
			want = append(want, "probe")
		}
		check(t, h, append(want, "bind 2", "announce"))
		h.stop(t)
	})
}

func TestProbeAbandonedOnLoss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := baseConfig
		cfg.ProbeWait, cfg.ProbeBudget = 30*time.Millisecond, time.Second
		h := start(t, cfg, true)
		for range 10 {
			h.r.holders = append(h.r.holders, []net.HardwareAddr{otherMAC})
		}
		win(h, 1)
		time.Sleep(40 * time.Millisecond)
		h.Notify(ev(election.Lost, 1))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if h.bound() {
			t.Error("bound after the term was lost during the probe")
		}
		h.stop(t)
	})
}

func TestRestoredReannouncesOnlyWhileBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, baseConfig, false)
		h.Restored(vips[0])
		win(h, 1)
		h.Restored(vips[0])
		check(t, h, []string{"bind 2", "announce", "announce"})
		h.stop(t)
	})
}

// TestHungElection: shutdown does not wait forever for an election that
// cannot release (API unreachable): the VIP is already gone by then.
func TestHungElection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{}
		block := make(chan struct{})
		defer close(block)
		k := New(baseConfig, Deps{Binder: r, Announcer: r, Election: r,
			Elect: func(context.Context) error { <-block; return nil }}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- k.Start(ctx) }()
		k.Notify(ev(election.Elected, 1))
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if _, bound := r.snapshot(); bound {
			t.Error("VIP still bound")
		}
	})
}
