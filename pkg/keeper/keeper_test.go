package keeper

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipkeeper/vipkeeper/pkg/election"
	"github.com/vipkeeper/vipkeeper/pkg/vip"
)

var vips = []netip.Addr{netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("2001:db8::100")}

// recorder is a fake binder, announcer, candidacy, guard and election that
// logs every call in order, so tests can assert on the sequence.
type recorder struct {
	mu      sync.Mutex // guards the fields below
	calls   []string
	bound   bool
	holders [][]net.HardwareAddr // answers of successive probes; then none
	wants   []vip.Want           // the last Set
}

func addrsOf(w []vip.Want) []netip.Addr {
	a := make([]netip.Addr, len(w))
	for i, x := range w {
		a[i] = x.Addr
	}
	return a
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, s)
}

func (r *recorder) Set(_ context.Context, w []vip.Want) ([]netip.Addr, error) {
	a := addrsOf(w)
	r.mu.Lock()
	r.wants = slices.Clone(w)
	was := r.bound
	r.bound = len(a) > 0
	r.mu.Unlock()
	if was != (len(a) > 0) {
		r.add(fmt.Sprintf("bind %d", len(a)))
	}
	return a, nil
}
func (r *recorder) Announce(_, fresh []netip.Addr) {
	if len(fresh) > 0 {
		r.add("announce")
	} else {
		r.add("withdraw")
	}
}
func (r *recorder) SetCandidate(ok bool) { r.add(fmt.Sprintf("candidate %v", ok)) }
func (r *recorder) Watch([]netip.Addr)   {}
func (r *recorder) Probe(ctx context.Context, _ []netip.Addr, wait time.Duration) ([]net.HardwareAddr, error) {
	r.add("probe")
	select {
	case <-ctx.Done():
	case <-time.After(wait):
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.holders) == 0 {
		return nil, nil
	}
	h := r.holders[0]
	r.holders = r.holders[1:]
	return h, nil
}

func (r *recorder) run(ctx context.Context) error {
	<-ctx.Done()
	r.add("release")
	return nil
}

func (r *recorder) snapshot() ([]string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...), r.bound
}

var baseConfig = Config{
	Identity:      "n1",
	VIPs:          vips,
	LeaseDuration: 5 * time.Second,
	SafetyMargin:  500 * time.Millisecond,
	RenewDeadline: 3 * time.Second,
	OnOutage:      Release,
	Healthy:       true,
}

// harness runs a Keeper over a recorder inside a synctest bubble.
type harness struct {
	*Keeper
	r      *recorder
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg Config, withGuard bool) *harness {
	r := &recorder{}
	deps := Deps{Binder: r, Announcer: r, Election: r, Elect: r.run}
	if withGuard {
		deps.Guard = r
	}
	return run(t, New(cfg, deps, nil, discard), r)
}

var discard = slog.New(slog.DiscardHandler)

// run starts k, whose fakes are r, and waits until it has settled; the
// calls of its start-up are forgotten.
func run(t *testing.T, k *Keeper, r *recorder) *harness {
	ctx, cancel := context.WithCancel(t.Context())
	h := &harness{Keeper: k, r: r, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- k.Start(ctx) }()
	synctest.Wait()
	r.mu.Lock()
	r.calls = nil // forget start-up
	r.mu.Unlock()
	return h
}

func (h *harness) calls() []string { c, _ := h.r.snapshot(); return c }
func (h *harness) bound() bool     { _, b := h.r.snapshot(); return b }

func (h *harness) stop(t *testing.T) {
	h.cancel()
	if err := <-h.done; err != nil {
		t.Fatalf("Start: %v", err)
	}
}

func ev(kind election.Kind, term uint64) election.Event {
	return election.Event{Kind: kind, Term: term}
}

func renewed(at time.Time) election.Event {
	return election.Event{Kind: election.Renewed, At: at}
}

func TestSequences(t *testing.T) {
	E, L := election.Elected, election.Lost
	tests := []struct {
		name   string
		events []election.Event
		want   []string
	}{
		{"win", []election.Event{ev(E, 1)}, []string{"bind 2", "announce"}},
		{"win then lose", []election.Event{ev(E, 1), ev(L, 1)}, []string{"bind 2", "announce", "withdraw", "bind 0"}},
		{"lost a term never led", []election.Event{ev(L, 1)}, nil},
		{"late elected of a lost term is ignored", []election.Event{ev(L, 1), ev(E, 1)}, nil},
		{"lose, campaign again, win", []election.Event{ev(E, 1), ev(L, 1), ev(E, 2)},
			[]string{"bind 2", "announce", "withdraw", "bind 0", "bind 2", "announce"}},
		{"duplicate elected binds once", []election.Event{ev(E, 1), ev(E, 1)}, []string{"bind 2", "announce", "announce"}},
		{"lost of an older term keeps the newer", []election.Event{ev(E, 2), ev(L, 1)}, []string{"bind 2", "announce"}},
		{"leader events change nothing", []election.Event{{Kind: election.Leader, Identity: "n2"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := start(t, baseConfig, false)
				for _, e := range tt.events {
					h.Notify(e)
				}
				synctest.Wait()
				if diff := cmp.Diff(tt.want, h.calls()); diff != "" {
					t.Errorf("calls (-want +got):\n%s", diff)
				}
				h.stop(t)
			})
		})
	}
}

// TestEveryOrder delivers the events of two terms in every order and checks
// the invariant: the VIP is bound at the end exactly when some term was
// elected (before its own loss arrived) and has not been lost since. Terms
// are sequential: an event of term t means every term before t ended.
func TestEveryOrder(t *testing.T) {
	all := []election.Event{ev(election.Elected, 1), ev(election.Lost, 1), ev(election.Elected, 2), ev(election.Lost, 2)}
	var perms [][]election.Event
	var permute func(prefix, rest []election.Event)
	permute = func(prefix, rest []election.Event) {
		if len(prefix) > 0 {
			perms = append(perms, prefix)
		}
		for i := range rest {
			next := append(append([]election.Event(nil), prefix...), rest[i])
			others := append(append([]election.Event(nil), rest[:i]...), rest[i+1:]...)
			permute(next, others)
		}
	}
	permute(nil, all)
	for _, p := range perms {
		synctest.Test(t, func(t *testing.T) {
			h := start(t, baseConfig, false)
			for _, e := range p {
				h.Notify(e)
			}
			synctest.Wait()
			if want := model(p); h.bound() != want {
				t.Errorf("order %v: bound = %v, want %v", describe(p), h.bound(), want)
			}
			h.stop(t)
			calls, bound := h.r.snapshot()
			if bound {
				t.Errorf("order %v: still bound after shutdown", describe(p))
			}
			if calls[len(calls)-1] != "release" {
				t.Errorf("order %v: lease not released last: %v", describe(p), calls)
			}
		})
	}
}

// model is the specification the loop must meet.
func model(events []election.Event) bool {
	lost := map[uint64]bool{}
	leading := map[uint64]bool{}
	for _, e := range events {
		for term := uint64(1); term < e.Term; term++ {
			lost[term] = true
			delete(leading, term)
		}
		switch e.Kind {
		case election.Lost:
			lost[e.Term] = true
			delete(leading, e.Term)
		case election.Elected:
			if !lost[e.Term] {
				leading[e.Term] = true
			}
		}
	}
	return len(leading) > 0
}

func describe(events []election.Event) string {
	var s []string
	for _, e := range events {
		s = append(s, fmt.Sprintf("%s%d", e.Kind, e.Term))
	}
	return strings.Join(s, ",")
}
