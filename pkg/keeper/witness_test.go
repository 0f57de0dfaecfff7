package keeper

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipkeeper/vipkeeper/pkg/election"
)

// startWitnessed starts a keeper under hold that needs a witness (a 2s
// window) and has just won term 1 at t=0: its deadline is 4.5s.
func startWitnessed(t *testing.T) *harness {
	cfg := baseConfig
	cfg.OnOutage = Hold
	cfg.WitnessWindow = 2 * time.Second
	h := start(t, cfg, false)
	win(h, 1)
	return h
}

// witness reports a peer heard every 500ms until ctx ends.
func witness(ctx context.Context, h *harness) {
	for {
		h.Witness(time.Now())
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// A pure API outage: the peers are still heard, and the holder rides on
// without a gap.
func TestWitnessedRide(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startWitnessed(t)
		ctx, stop := context.WithCancel(t.Context())
		go witness(ctx, h)
		h.APIReachable(false)
		time.Sleep(4 * time.Second)
		h.Notify(ev(election.Lost, 1))
		time.Sleep(30 * time.Second)
		if !h.bound() {
			t.Error("a witnessed rider dropped the VIP")
		}
		stop()
		h.stop(t)
	})
}

// Cut off from the API server and the peers: gone by the deadline, as
// under release, and a peer heard again later does not restart the ride.
func TestUnwitnessedRideEndsAtTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startWitnessed(t)
		ctx, stop := context.WithCancel(t.Context())
		go witness(ctx, h)
		time.Sleep(time.Second)
		stop() // the cut
		h.APIReachable(false)
		time.Sleep(3400 * time.Millisecond) // t=4.4s, before the deadline
		synctest.Wait()
		if !h.bound() {
			t.Fatal("dropped the VIP before its deadline")
		}
		time.Sleep(100 * time.Millisecond) // t=4.5s, the deadline
		synctest.Wait()
		if h.bound() {
			t.Fatal("an unwitnessed holder kept the VIP past its deadline")
		}
		ctx, stop = context.WithCancel(t.Context())
		go witness(ctx, h)
		time.Sleep(5 * time.Second)
		if h.bound() {
			t.Error("a peer heard again after the deadline restarted the ride")
		}
		stop()
		h.stop(t)
	})
}

// The evidence goes stale during a ride: it ends then.
func TestRideEndsWhenTheWitnessGoesQuiet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startWitnessed(t)
		ctx, stop := context.WithCancel(t.Context())
		go witness(ctx, h)
		h.APIReachable(false)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if !h.bound() {
			t.Fatal("a witnessed rider dropped the VIP")
		}
		stop() // last heard at t=10s
		time.Sleep(1999 * time.Millisecond)
		synctest.Wait()
		if !h.bound() {
			t.Fatal("dropped before the evidence went stale")
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if h.bound() {
			t.Error("kept the VIP after the evidence went stale")
		}
		h.stop(t)
	})
}
