package vip

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLifetime(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const late = 1500 * time.Millisecond
	tests := []struct {
		name   string
		until  time.Time
		want   uint32
		wantOK bool
	}{
		{"no deadline: forever", time.Time{}, infiniteLifetime, true},
		{"rounds down", now.Add(4500*time.Millisecond - time.Nanosecond), 2, true},
		{"whole seconds exactly", now.Add(4500 * time.Millisecond), 3, true},
		{"one second is the least", now.Add(late + time.Second), 1, true},
		{"never 0: below a second left after lateness", now.Add(late + time.Second - time.Nanosecond), 0, false},
		{"deadline passed", now.Add(-time.Second), 0, false},
		{"far deadline stays below forever", now.Add(200 * 365 * 24 * time.Hour), infiniteLifetime - 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Lifetime(tt.until, now, late)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Lifetime = %d, %v; want %d, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestNeedsRefresh(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const ms = time.Millisecond
	tests := []struct {
		name      string
		cur, want uint32
		prev      time.Duration // from now; the lifetime last given ends then
		known     bool
		refresh   bool
	}{
		{"same end", 2, 2, 2000 * ms, true, false},
		{"the deadline moved on", 1, 2, 1500 * ms, true, true},
		{"hidden by whole seconds: reports 2, ends in 1.01s", 2, 2, 1010 * ms, true, true},
		{"rounding: ends up to a second earlier", 2, 2, 2900 * ms, true, false},
		{"the deadline moved back", 5, 2, 5000 * ms, true, true},
		{"not given by us", 2, 2, 0, false, true},
		{"a leftover valid forever", infiniteLifetime, 3, 0, false, true},
		{"to forever", 3, infiniteLifetime, 3000 * ms, true, true},
		{"forever stays", infiniteLifetime, infiniteLifetime, 0, false, false},
	}
	for _, tt := range tests {
		if got := needsRefresh(tt.cur, tt.want, now.Add(tt.prev), tt.known, now); got != tt.refresh {
			t.Errorf("%s: needsRefresh = %v, want %v", tt.name, got, tt.refresh)
		}
	}
}

// An address is added with its deadline's lifetime, refreshed (with its
// protocol and flags) when the deadline moves on, and not refreshed by a
// reconcile that finds the deadline unchanged.
func TestSetRefreshesLifetime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(testIf, testIndex)
		b := newWithNetlink(Config{Interface: testIf}, f, testLogger(t))
		until := time.Now().Add(4500 * time.Millisecond)
		if _, err := b.Set(t.Context(), []Want{{a4, until}, {a6, until}}); err != nil {
			t.Fatal(err)
		}
		want := []kernelAddr{withLifetime(a4, netip.MustParsePrefix("192.0.2.10/32"), 3), withLifetime(a6, netip.MustParsePrefix("2001:db8::10/128"), 3)}
		if diff := cmp.Diff(want, f.kernel(testIndex), opts...); diff != "" {
			t.Errorf("after add (-want +got):\n%s", diff)
		}
		if _, err := b.Set(t.Context(), []Want{{a4, until}, {a6, until}}); err != nil {
			t.Fatal(err)
		}
		if len(f.replaces) != 0 {
			t.Errorf("same deadline: %d replaces, want 0", len(f.replaces))
		}
		if _, err := b.Set(t.Context(), []Want{{a4, until.Add(time.Second)}, {a6, until}}); err != nil {
			t.Fatal(err)
		}
		wantReplaces := []call{{testIndex, withLifetime(a4, netip.MustParsePrefix("192.0.2.10/32"), 4)}}
		if diff := cmp.Diff(wantReplaces, f.replaces, opts...); diff != "" {
			t.Errorf("replaces (-want +got):\n%s", diff)
		}
		if got := f.replaces[0].Addr; got.Proto != Protocol {
			t.Errorf("refresh protocol %#x, want %#x", got.Proto, Protocol)
		}
	})
}

// The kernel expires an address at the end of its lifetime: the binder
// counts it and never puts it back, and a refresh is not sent once less
// than the lateness and a second are left. A NEWADDR for an address of
// ours that is still desired causes no reconcile.
func TestStartDoesNotRestoreExpired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(testIf, testIndex)
		var r recorder
		b := newWithNetlink(Config{Interface: testIf, ReconcileInterval: time.Second, OnRestored: r.onRestored}, f, testLogger(t))
		until := time.Now().Add(4500 * time.Millisecond)
		if _, err := b.Set(t.Context(), []Want{{a4, until}}); err != nil {
			t.Fatal(err)
		}
		stop := runStart(t, b)
		defer stop()

		before, _ := f.stats()
		refreshed := netlinkUpdate(a4, 32, testIndex) // what a refresh sends
		refreshed.NewAddr = true
		f.events.Send(refreshed)
		synctest.Wait()
		if after, _ := f.stats(); after != before {
			t.Errorf("NEWADDR of our own desired address caused %d reconciles, want 0", after-before)
		}

		time.Sleep(3 * time.Second) // the 3 s lifetime runs out
		f.remove(testIndex, a4)     // as the kernel does
		synctest.Wait()
		if got := f.kernel(testIndex); len(got) != 0 {
			t.Errorf("kernel after expiry: %v, want nothing (not restored)", got)
		}
		if len(r.calls()) != 0 || b.Expired() != 1 {
			t.Errorf("restored %v, expired %d; want none restored, 1 expired", r.calls(), b.Expired())
		}
		time.Sleep(2 * time.Second) // periodic reconciles past the deadline
		synctest.Wait()
		if got := f.kernel(testIndex); len(got) != 0 || len(f.replaces) != 0 || b.Expired() != 1 {
			t.Errorf("after the deadline: kernel %v, %d replaces, expired %d; want nothing, 0, 1", got, len(f.replaces), b.Expired())
		}
	})
}
