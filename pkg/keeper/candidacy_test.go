package keeper

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"

	"github.com/vipkeeper/vipkeeper/pkg/election"
)

// TestCandidate is the candidacy rule: healthy, and with the check on,
// the local API server ready; health is named first.
func TestCandidate(t *testing.T) {
	type want struct {
		OK     bool
		Reason Reason
		Detail string
	}
	tests := []struct {
		name string
		s    standing
		want want
	}{
		{"healthy, check off", standing{healthy: true}, want{OK: true}},
		{"healthy, check off, API not ready counts for nothing", standing{healthy: true, apiReason: "status 500"}, want{OK: true}},
		{"healthy, API ready", standing{healthy: true, checkAPI: true, apiReady: true}, want{OK: true}},
		{"healthy, API not ready", standing{healthy: true, checkAPI: true, apiReason: "connection refused"},
			want{Reason: ReasonAPIServerNotReady, Detail: "connection refused"}},
		{"unhealthy, API ready", standing{healthReason: "link down", checkAPI: true, apiReady: true},
			want{Reason: ReasonUnhealthy, Detail: "link down"}},
		{"unhealthy, API not ready: health first", standing{healthReason: "link down", checkAPI: true, apiReason: "timeout"},
			want{Reason: ReasonUnhealthy, Detail: "link down"}},
		{"unhealthy, check off", standing{healthReason: "link down"}, want{Reason: ReasonUnhealthy, Detail: "link down"}},
	}
	for _, tt := range tests {
		ok, reason, detail := tt.s.candidate()
		if diff := cmp.Diff(tt.want, want{ok, reason, detail}); diff != "" {
			t.Errorf("%s: candidate (-want +got):\n%s", tt.name, diff)
		}
	}
}

// unbindReasons records the reasons of Unbound transitions.
type unbindReasons struct {
	mu      sync.Mutex
	reasons []Reason
}

func (u *unbindReasons) Observe(t Transition) {
	if t.Change == Unbound {
		u.mu.Lock()
		u.reasons = append(u.reasons, t.Reason)
		u.mu.Unlock()
	}
}

func (u *unbindReasons) get() []Reason {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.reasons)
}

// TestAPIServerGatesOnlyTheVIP: with the check on, a node campaigns only
// once its own API server is ready; when it fails, the node steps down
// from the control-plane VIP at once (unbind, then leave the election,
// which releases the Lease) and keeps its Service VIPs; it rejoins when
// the server is ready again. Health still drops everything.
func TestAPIServerGatesOnlyTheVIP(t *testing.T) {
	svc := "203.0.113.1"
	cp := []string{"192.0.2.100", "2001:db8::100"}
	synctest.Test(t, func(t *testing.T) {
		r := &setRecorder{}
		obs := &unbindReasons{}
		cfg := baseConfig
		cfg.CheckAPIServer = true
		k := New(cfg, Deps{Binder: r, Announcer: r, Election: r, Elect: r.run, Observer: obs}, nil, slog.New(slog.DiscardHandler))
		ctx, cancel := context.WithCancel(t.Context())
		h := &harness{Keeper: k, r: &r.recorder, cancel: cancel, done: make(chan error, 1)}
		go func() { h.done <- k.Start(ctx) }()
		synctest.Wait()
		if err := h.SetServiceVIPs(ctx, addrs(svc)); err != nil {
			t.Fatal(err)
		}

		step := func(name string, do func(), wantCalls []string, wantSet []string) {
			t.Helper()
			r.mu.Lock()
			r.calls = nil
			r.mu.Unlock()
			do()
			synctest.Wait()
			calls, _ := r.snapshot()
			if diff := cmp.Diff(wantCalls, calls); diff != "" {
				t.Errorf("%s: calls (-want +got):\n%s", name, diff)
			}
			set, _, _ := r.state()
			slices.Sort(wantSet)
			if diff := cmp.Diff(wantSet, set); diff != "" {
				t.Errorf("%s: bound (-want +got):\n%s", name, diff)
			}
		}
		all := append([]string{svc}, cp...)
		step("ready", func() { h.APIServerReady(true, "") }, []string{"candidate true"}, []string{svc})
		step("elected", func() { win(h, 1) }, nil, all)
		step("ready again changes nothing", func() { h.APIServerReady(true, "") }, nil, all)
		step("not ready", func() { h.APIServerReady(false, "status 500") }, []string{"candidate false"}, []string{svc})
		step("lost", func() { h.Notify(ev(election.Lost, 1)) }, nil, []string{svc})
		step("unhealthy while not ready", func() { h.Health(false, "link down") }, nil, []string{})
		step("healthy, still not ready", func() { h.Health(true, "") }, nil, []string{svc})
		step("ready: rejoin", func() { h.APIServerReady(true, "") }, []string{"candidate true"}, []string{svc})
		step("elected again", func() { win(h, 2) }, nil, all)
		step("unhealthy", func() { h.Health(false, "link down") }, []string{"candidate false"}, []string{})
		if diff := cmp.Diff([]Reason{ReasonAPIServerNotReady, ReasonUnhealthy}, obs.get()); diff != "" {
			t.Errorf("unbind reasons (-want +got):\n%s", diff)
		}
		h.stop(t)
	})
}

// TestAPIServerReadyIgnoredWithoutCheck: without the check, the reports
// change nothing.
func TestAPIServerReadyIgnoredWithoutCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, baseConfig, false)
		win(h, 1)
		h.APIServerReady(false, "status 500")
		check(t, h, []string{"bind 2", "announce"})
		h.stop(t)
	})
}
