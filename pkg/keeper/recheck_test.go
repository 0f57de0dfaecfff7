package keeper

import (
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipkeeper/vipkeeper/pkg/election"
)

// unbinds is an Observer that records when the VIP was unbound, and why,
// relative to a start time.
type unbinds struct {
	start time.Time
	mu    sync.Mutex // guards got
	got   []string
}

func (o *unbinds) Observe(t Transition) {
	if t.Change != Unbound {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, fmt.Sprintf("%v %s", t.At.Sub(o.start), t.Reason))
}

func (o *unbinds) list() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.got...)
}

// TestRecheckTimer is the keeper's own rule on top of the tenure: one timer,
// armed to the tenure's next change, unbinds the VIP at the holder's
// deadline (last renewal + 5s − 0.5s) or at the end of a ride (a renew
// deadline, 3s, after the API server came back) — and not before.
func TestRecheckTimer(t *testing.T) {
	type step struct {
		at time.Duration
		do func(*harness)
	}
	down := func(h *harness) { h.APIReachable(false) }
	up := func(h *harness) { h.APIReachable(true) }
	lost := func(h *harness) { h.Notify(ev(election.Lost, 1)) }
	renew := func(h *harness) { h.Notify(renewed(time.Now())) }
	tests := []struct {
		name   string
		policy OutagePolicy
		steps  []step
		want   []string // "<when> <reason>" of each unbind within 60s
	}{
		{"release: no renewal after the win", Release, nil, []string{"4.5s deadline"}},
		{"release: renewals keep it", Release, []step{{1 * time.Second, renew}, {4 * time.Second, renew}, {8 * time.Second, renew}},
			[]string{"12.5s deadline"}},
		{"release: the API away at the deadline", Release, []step{{time.Second, down}}, []string{"4.5s api_unreachable"}},
		{"hold: the API away past the deadline rides", Hold, []step{{time.Second, down}}, nil},
		{"hold: the term ends during the outage, still riding", Hold, []step{{time.Second, down}, {4 * time.Second, lost}}, nil},
		{"hold: back, not renewed within the renew deadline", Hold,
			[]step{{time.Second, down}, {4 * time.Second, lost}, {10 * time.Second, up}}, []string{"13s api_back_not_renewed"}},
		{"hold: back and renewed", Hold,
			[]step{{time.Second, down}, {10 * time.Second, up}, {11 * time.Second, renew}}, []string{"15.5s deadline"}},
		{"hold: an outage over before the deadline is no ride", Hold,
			[]step{{time.Second, down}, {2 * time.Second, up}}, []string{"4.5s deadline"}},
		{"hold: an outage after the deadline finds it gone", Hold,
			[]step{{5 * time.Second, down}}, []string{"4.5s deadline"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := baseConfig
				cfg.OnOutage = tt.policy
				r := &recorder{}
				obs := &unbinds{start: time.Now()}
				k := New(cfg, Deps{Binder: r, Announcer: r, Election: r, Elect: r.run, Observer: obs}, nil, discard)
				h := run(t, k, r)
				win(h, 1)
				var now time.Duration
				for _, s := range tt.steps {
					time.Sleep(s.at - now)
					now = s.at
					s.do(h)
				}
				time.Sleep(60*time.Second - now)
				synctest.Wait()
				if diff := cmp.Diff(tt.want, obs.list()); diff != "" {
					t.Errorf("unbinds (-want +got):\n%s", diff)
				}
				h.stop(t)
			})
		})
	}
}
