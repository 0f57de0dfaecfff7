package keeper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipkeeper/vipkeeper/pkg/election"
	"github.com/vipkeeper/vipkeeper/pkg/vip"
)

// transitions is an Observer that keeps a short description of each
// transition.
type transitions struct {
	mu  sync.Mutex // guards got
	got []string
}

func (o *transitions) Observe(t Transition) {
	s := t.Change.String()
	switch t.Change {
	case Acquired, Lost:
		s += fmt.Sprintf(" term=%d", t.Term)
	case Unbound:
		s += fmt.Sprintf(" %s %q", t.Reason, t.Detail)
	case Restored:
		s += fmt.Sprintf(" %v", t.VIPs)
	}
	o.mu.Lock()
	o.got = append(o.got, s)
	o.mu.Unlock()
}

func (o *transitions) list() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.got...)
}

func startObserved(t *testing.T, cfg Config) (*harness, *transitions) {
	r := &recorder{}
	obs := &transitions{}
	deps := Deps{Binder: r, Announcer: r, Election: r, Elect: r.run, Observer: Observers{obs, nil}}
	return run(t, New(cfg, deps, nil, discard), r), obs
}

func TestObserverTransitions(t *testing.T) {
	E, L := election.Elected, election.Lost
	tests := []struct {
		name string
		cfg  func(*Config)
		run  func(h *harness)
		want []string
	}{
		{"win", nil, func(h *harness) { h.Notify(ev(E, 1)) },
			[]string{"acquired term=1", "bound"}},
		{"win then lose", nil, func(h *harness) { h.Notify(ev(E, 1)); h.Notify(ev(L, 1)) },
			[]string{"acquired term=1", "bound", "lost term=1", `unbound lease_lost "lease lost"`}},
		{"duplicate elected is one acquisition", nil, func(h *harness) { h.Notify(ev(E, 1)); h.Notify(ev(E, 1)) },
			[]string{"acquired term=1", "bound"}},
		{"lost a term never led", nil, func(h *harness) { h.Notify(ev(L, 1)) }, nil},
		{"unhealthy", nil, func(h *harness) { h.Notify(ev(E, 1)); h.Health(false, "link down") },
			[]string{"acquired term=1", "bound", `unbound unhealthy "link down"`}},
		{"another leader while riding", func(c *Config) { c.OnOutage = Hold }, func(h *harness) {
			win(h, 1) // the acquiring write is reported before the term
			h.APIReachable(false)
			h.Notify(ev(L, 1))
			h.Notify(election.Event{Kind: election.Leader, Identity: "n2"})
		}, []string{"acquired term=1", "bound", "lost term=1", `unbound other_leader "another node holds the lease: n2"`}},
		{"claimed after losing", func(c *Config) { c.OnOutage = Hold }, func(h *harness) {
			win(h, 1) // the acquiring write is reported before the term
			h.APIReachable(false)
			h.Notify(ev(L, 1))
			h.Claimed(vips[0], net.HardwareAddr{2, 0, 0, 0, 0, 2}, "arp")
		}, []string{"acquired term=1", "bound", "lost term=1", `unbound claimed "claimed by 02:00:00:00:00:02"`}},
		{"restored", nil, func(h *harness) { h.Notify(ev(E, 1)); h.Restored(vips[0]) },
			[]string{"acquired term=1", "bound", "restored [192.0.2.100]"}},
		{"restored while not bound is ignored", nil, func(h *harness) { h.Restored(vips[0]) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := baseConfig
				if tt.cfg != nil {
					tt.cfg(&cfg)
				}
				h, obs := startObserved(t, cfg)
				tt.run(h)
				synctest.Wait()
				if diff := cmp.Diff(tt.want, obs.list()); diff != "" {
					t.Errorf("transitions (-want +got):\n%s", diff)
				}
				h.stop(t)
			})
		})
	}
}

// The deadline passing reports api_unreachable when the API server is
// down, deadline when it is up (renewals failing for another cause).
func TestObserverDeadlineReasons(t *testing.T) {
	for _, apiUp := range []bool{true, false} {
		t.Run(fmt.Sprintf("api up %v", apiUp), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h, obs := startObserved(t, baseConfig)
				h.Notify(ev(election.Elected, 1))
				h.Notify(renewed(time.Now()))
				if !apiUp {
					h.APIReachable(false)
				}
				time.Sleep(baseConfig.LeaseDuration)
				synctest.Wait()
				want := `unbound deadline "lease not renewed in time"`
				if !apiUp {
					want = `unbound api_unreachable "lease not renewed in time"`
				}
				got := obs.list()
				if len(got) != 3 || got[2] != want {
					t.Errorf("transitions %q, want the third %q", got, want)
				}
				h.stop(t)
			})
		})
	}
}

// Shutdown reports the unbind and then the end of leadership.
func TestObserverShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, obs := startObserved(t, baseConfig)
		h.Notify(ev(election.Elected, 1))
		synctest.Wait()
		h.stop(t)
		want := []string{"acquired term=1", "bound", `unbound shutdown ""`, "lost term=1"}
		if diff := cmp.Diff(want, obs.list()); diff != "" {
			t.Errorf("transitions (-want +got):\n%s", diff)
		}
	})
}

func TestReasonsAreLabels(t *testing.T) {
	seen := map[Reason]bool{}
	for _, r := range Reasons() {
		if seen[r] {
			t.Errorf("%q listed twice", r)
		}
		seen[r] = true
		for _, c := range r {
			if (c < 'a' || c > 'z') && c != '_' {
				t.Errorf("%q is not a snake_case label value", r)
				break
			}
		}
	}
}

// blockingBinder never returns from Set while block is open.
type blockingBinder struct{ block chan struct{} }

func (b blockingBinder) Set(ctx context.Context, _ []vip.Want) ([]netip.Addr, error) {
	<-b.block
	return nil, nil
}

func TestPing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := startObserved(t, baseConfig)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		if err := h.Ping(ctx); err != nil {
			t.Errorf("Ping of a running loop: %v", err)
		}
		cancel()
		h.stop(t)
		if err := h.Ping(t.Context()); !errors.Is(err, ErrStopped) {
			t.Errorf("Ping after stop = %v, want ErrStopped", err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{}
		b := blockingBinder{block: make(chan struct{})}
		k := New(baseConfig, Deps{Binder: b, Announcer: r, Election: r, Elect: r.run}, nil, slog.New(slog.DiscardHandler))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- k.Start(ctx) }()
		// The start-up unbind hangs in the binder: the loop is stuck.
		pctx, pcancel := context.WithTimeout(t.Context(), time.Second)
		if err := k.Ping(pctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Ping of a stuck loop = %v, want context.DeadlineExceeded", err)
		}
		pcancel()
		close(b.block)
		cancel()
		<-done
	})
}
