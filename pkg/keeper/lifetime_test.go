package keeper

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipkeeper/vipkeeper/pkg/election"
	"github.com/vipkeeper/vipkeeper/pkg/vip"
)

// The binder gets the control-plane VIPs with their Lease's deadline, a
// later one after every renewal, and — riding through an outage under
// hold — an extension on every tick of the live loop.
func TestVIPDeadlines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := baseConfig
		cfg.OnOutage = Hold
		cfg.Lateness = 1500 * time.Millisecond
		h := start(t, cfg, false)
		defer h.stop(t)
		wantAll := func(what string, until time.Time) {
			t.Helper()
			h.r.mu.Lock()
			got := h.r.wants
			h.r.mu.Unlock()
			want := []vip.Want{{Addr: vips[0], Until: until}, {Addr: vips[1], Until: until}}
			if diff := cmp.Diff(want, got, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
				t.Errorf("%s: binder wants (-want +got):\n%s", what, diff)
			}
		}
		t0 := time.Now()
		h.Notify(renewed(t0))
		h.Notify(ev(election.Elected, 1))
		synctest.Wait()
		wantAll("bound", t0.Add(4500*time.Millisecond))

		time.Sleep(time.Second)
		h.Notify(renewed(time.Now()))
		synctest.Wait()
		wantAll("renewed", t0.Add(5500*time.Millisecond))

		// The API goes away: each tick (every (4.5 s − 1.5 s)/2) moves
		// the deadline to 4.5 s after it, past the Lease's own.
		h.APIReachable(false)
		synctest.Wait()
		wantAll("outage", time.Now().Add(4500*time.Millisecond))
		for range 4 {
			time.Sleep(1500 * time.Millisecond)
			synctest.Wait()
			wantAll("riding", time.Now().Add(4500*time.Millisecond))
		}
		if !h.bound() {
			t.Error("a rider whose loop ticks lost the VIP")
		}
	})
}
