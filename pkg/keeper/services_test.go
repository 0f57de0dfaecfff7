package keeper

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipkeeper/vipkeeper/pkg/election"
	"github.com/vipkeeper/vipkeeper/pkg/vip"
)

// setRecorder is a binder and announcer that keeps the last sets, so the
// tests can check what the node holds and announces after each step.
type setRecorder struct {
	recorder
	set, announced, fresh []netip.Addr
}

func (r *setRecorder) Set(_ context.Context, w []vip.Want) ([]netip.Addr, error) {
	a := addrsOf(w)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.set = slices.Clone(a)
	return a, nil
}

func (r *setRecorder) Announce(all, fresh []netip.Addr) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.announced, r.fresh = slices.Clone(all), slices.Clone(fresh)
}

func (r *setRecorder) state() (set, announced, fresh []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	str := func(as []netip.Addr) []string {
		out := []string{}
		for _, a := range as {
			out = append(out, a.String())
		}
		slices.Sort(out)
		return out
	}
	return str(r.set), str(r.announced), str(r.fresh)
}

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

// TestServiceVIPs walks the Service VIPs through the keeper's states: they
// are bound beside the control-plane VIP, dropped while unhealthy, bound
// again when healthy, and gone at shutdown; only new addresses get a burst.
func TestServiceVIPs(t *testing.T) {
	type step struct {
		name  string
		do    func(h *harness, r *setRecorder)
		set   []string // what the binder holds after the step
		ann   []string // what is announced
		burst []string
	}
	svcA, svcB := "203.0.113.1", "2001:db8::1:1"
	set := func(a ...string) func(h *harness, r *setRecorder) {
		return func(h *harness, _ *setRecorder) {
			if err := h.SetServiceVIPs(context.Background(), addrs(a...), time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
	}
	notify := func(e election.Event) func(h *harness, r *setRecorder) {
		return func(h *harness, _ *setRecorder) { h.Notify(e) }
	}
	health := func(ok bool) func(h *harness, r *setRecorder) {
		return func(h *harness, _ *setRecorder) { h.Health(ok, "test") }
	}
	steps := []step{
		{"services first", set(svcA), []string{svcA}, []string{svcA}, []string{svcA}},
		{"second service", set(svcA, svcB), []string{svcB, svcA}, []string{svcB, svcA}, []string{svcB}},
		{"elected", notify(ev(election.Elected, 1)), []string{svcB, "2001:db8::100", "192.0.2.100", svcA},
			[]string{svcB, "2001:db8::100", "192.0.2.100", svcA}, []string{"2001:db8::100", "192.0.2.100"}},
		{"drop one service", set(svcB), []string{svcB, "2001:db8::100", "192.0.2.100"},
			[]string{svcB, "2001:db8::100", "192.0.2.100"}, []string{}},
		{"lost", notify(ev(election.Lost, 1)), []string{svcB}, []string{svcB}, []string{}},
		{"unhealthy", health(false), []string{}, []string{}, []string{}},
		{"set while unhealthy", set(svcA, svcB), []string{}, []string{}, []string{}},
		{"healthy", health(true), []string{svcB, svcA}, []string{svcB, svcA}, []string{svcB, svcA}},
		{"none", set(), []string{}, []string{}, []string{}},
	}
	synctest.Test(t, func(t *testing.T) {
		r := &setRecorder{}
		k := New(baseConfig, Deps{Binder: r, Announcer: r, Election: r, Elect: r.run}, nil, slog.New(slog.DiscardHandler))
		ctx, cancel := context.WithCancel(t.Context())
		h := &harness{Keeper: k, cancel: cancel, done: make(chan error, 1)}
		go func() { h.done <- k.Start(ctx) }()
		synctest.Wait()
		for i, s := range steps {
			s.do(h, r)
			synctest.Wait()
			gotSet, gotAnn, gotFresh := r.state()
			want := func(w []string) []string { w = slices.Clone(w); slices.Sort(w); return w }
			if diff := cmp.Diff(want(s.set), gotSet); diff != "" {
				t.Errorf("step %d %s: bound (-want +got):\n%s", i, s.name, diff)
			}
			if diff := cmp.Diff(want(s.ann), gotAnn); diff != "" {
				t.Errorf("step %d %s: announced (-want +got):\n%s", i, s.name, diff)
			}
			if s.burst != nil {
				if diff := cmp.Diff(want(s.burst), gotFresh); diff != "" {
					t.Errorf("step %d %s: burst (-want +got):\n%s", i, s.name, diff)
				}
			}
		}
		set(svcA)(h, r)
		h.stop(t)
		if gotSet, _, _ := r.state(); len(gotSet) != 0 {
			t.Errorf("after shutdown the binder holds %v", gotSet)
		}
	})
}

// TestServicesOnly runs the keeper without control-plane VIPs: no
// election, Service VIPs only.
func TestServicesOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &setRecorder{}
		cfg := baseConfig
		cfg.VIPs = nil
		elect := func(context.Context) error { return fmt.Errorf("no election expected") }
		k := New(cfg, Deps{Binder: r, Announcer: r, Elect: elect}, nil, slog.New(slog.DiscardHandler))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- k.Start(ctx) }()
		if err := k.SetServiceVIPs(t.Context(), addrs("203.0.113.7"), time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := r.state(); !slices.Equal(got, []string{"203.0.113.7"}) {
			t.Errorf("bound %v", got)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Start: %v", err)
		}
		if got, _, _ := r.state(); len(got) != 0 {
			t.Errorf("after shutdown the binder holds %v", got)
		}
		if err := k.SetServiceVIPs(t.Context(), nil, time.Time{}); err == nil {
			t.Error("SetServiceVIPs after the loop stopped: want an error")
		}
	})
}
