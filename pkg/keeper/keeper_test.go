package keeper

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"

	"github.com/vipkeeper/vipkeeper/pkg/election"
)

var vips = []netip.Addr{netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("2001:db8::100")}

// recorder is a fake binder, announcer and election that logs every call
// in order, so tests can assert on the sequence.
type recorder struct {
	mu    sync.Mutex // guards calls and bound
	calls []string
	bound bool
	elect chan struct{} // closed when the fake election returns
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, s)
}

func (r *recorder) Set(_ context.Context, a []netip.Addr) ([]netip.Addr, error) {
	r.mu.Lock()
	r.bound = len(a) > 0
	r.mu.Unlock()
	r.add(fmt.Sprintf("bind %d", len(a)))
	return a, nil
}
func (r *recorder) Takeover([]netip.Addr) { r.add("announce") }
func (r *recorder) Withdraw()             { r.add("withdraw") }

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

func newKeeper(r *recorder) *Keeper {
	return New(Config{VIPs: vips}, r, r, r.run, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func ev(kind election.Kind, term uint64) election.Event {
	return election.Event{Kind: kind, Term: term}
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
		{"duplicate elected binds once", []election.Event{ev(E, 1), ev(E, 1)}, []string{"bind 2", "announce"}},
		{"lost of an older term keeps the newer", []election.Event{ev(E, 2), ev(L, 1)}, []string{"bind 2", "announce"}},
		{"leader events change nothing", []election.Event{{Kind: election.Leader, Identity: "n2"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := &recorder{}
				k := newKeeper(r)
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan error)
				go func() { done <- k.Start(ctx) }()
				for _, e := range tt.events {
					k.Notify(e)
				}
				synctest.Wait()
				got, _ := r.snapshot()
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("calls (-want +got):\n%s", diff)
				}
				cancel()
				if err := <-done; err != nil {
					t.Fatalf("Start: %v", err)
				}
			})
		})
	}
}

// TestEveryOrder delivers the events of two terms in every order and checks
// the invariant: the VIP is bound at the end exactly when some term was
// elected (before its own loss arrived) and has not been lost since. Terms
// are sequential: an Elected of term t means every term before t ended.
func TestEveryOrder(t *testing.T) {
	all := []election.Event{ev(election.Elected, 1), ev(election.Lost, 1), ev(election.Elected, 2), ev(election.Lost, 2)}
	var perms [][]election.Event
	var permute func(prefix []election.Event, rest []election.Event)
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
			r := &recorder{}
			k := newKeeper(r)
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error)
			go func() { done <- k.Start(ctx) }()
			for _, e := range p {
				k.Notify(e)
			}
			synctest.Wait()
			_, bound := r.snapshot()
			if want := model(p); bound != want {
				t.Errorf("order %v: bound = %v, want %v", describe(p), bound, want)
			}
			cancel()
			<-done
			calls, bound := r.snapshot()
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
		switch e.Kind {
		case election.Lost:
			for term := uint64(1); term <= e.Term; term++ {
				lost[term] = true
				delete(leading, term)
			}
		case election.Elected:
			for term := range leading {
				if term < e.Term {
					delete(leading, term)
				}
			}
			for term := uint64(1); term < e.Term; term++ {
				lost[term] = true
			}
			if !lost[e.Term] && !anyLostAtOrAfter(lost, e.Term) {
				leading[e.Term] = true
			}
		}
	}
	return len(leading) > 0
}

func anyLostAtOrAfter(lost map[uint64]bool, t uint64) bool {
	for term := range lost {
		if term >= t {
			return true
		}
	}
	return false
}

func describe(events []election.Event) string {
	var s []string
	for _, e := range events {
		s = append(s, fmt.Sprintf("%s%d", e.Kind, e.Term))
	}
	return strings.Join(s, ",")
}

// TestShutdownOrder: on shutdown the VIP is withdrawn and unbound before the
// election is stopped (which releases the lease), so a peer that takes the
// released lease never overlaps with us.
func TestShutdownOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{}
		k := newKeeper(r)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- k.Start(ctx) }()
		k.Notify(ev(election.Elected, 1))
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		got, _ := r.snapshot()
		want := []string{"bind 2", "announce", "withdraw", "bind 0", "release"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
		// Senders never block once the loop has stopped.
		k.Notify(ev(election.Elected, 3))
		k.Restored(vips[0])
	})
}

func TestRestoredReannouncesOnlyWhileLeading(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{}
		k := newKeeper(r)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- k.Start(ctx) }()
		k.Restored(vips[0])
		k.Notify(ev(election.Elected, 1))
		k.Restored(vips[0])
		synctest.Wait()
		got, _ := r.snapshot()
		want := []string{"bind 2", "announce", "announce"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
		cancel()
		<-done
	})
}

// TestHungElection: shutdown does not wait forever for an election that
// cannot release (API unreachable): the VIP is already gone by then.
func TestHungElection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{}
		block := make(chan struct{})
		defer close(block)
		k := New(Config{VIPs: vips}, r, r, func(context.Context) error { <-block; return nil },
			slog.New(slog.NewTextHandler(io.Discard, nil)))
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
