package vip

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// recorder collects OnRestored calls.
type recorder struct {
	mu  sync.Mutex
	got []netip.Addr
}

func (r *recorder) onRestored(a netip.Addr) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, a)
}

func (r *recorder) calls() []netip.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]netip.Addr(nil), r.got...)
}

// runStart runs b.Start in the bubble and returns a function that stops it
// and checks that it returned nil.
func runStart(t *testing.T, b *Binder) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- b.Start(ctx) }()
	synctest.Wait()
	return func() {
		t.Helper()
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Start() = %v, want nil", err)
		}
	}
}

// Start's first reconcile runs with an empty desired set: addresses of ours
// left by a previous run go (a crashed run may have left a VIP that another
// node holds by now), everything else stays (an administrator's address,
// even one equal to a VIP, is not ours to remove).
func TestStartRemovesStale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kept := []kernelAddr{foreign(b4, 32, 0), foreign(c4, 24, 2), foreign(a4, 24, 0)}
		f := newFake(testIf, testIndex, append([]kernelAddr{ours(a4), ours(a6)}, kept...)...)
		b := newWithNetlink(Config{Interface: testIf}, f, testLogger(t))
		stop := runStart(t, b)
		defer stop()
		if diff := cmp.Diff(kept, f.kernel(testIndex), opts...); diff != "" {
			t.Errorf("kernel after Start (-want +got):\n%s", diff)
		}
	})
}

// A VIP removed by someone else (a network manager or DHCP client that
// flushes addresses it did not add) is put back on the event, and
// OnRestored is called exactly once per removal.
func TestStartRestoresOnEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(testIf, testIndex)
		var r recorder
		b := newWithNetlink(Config{Interface: testIf, OnRestored: r.onRestored}, f, testLogger(t))
		if _, err := b.Set(t.Context(), forever(a4, a6)); err != nil {
			t.Fatal(err)
		}
		stop := runStart(t, b)
		defer stop()

		var want []netip.Addr
		for _, ip := range []netip.Addr{a4, a6, a4} {
			f.remove(testIndex, ip)
			synctest.Wait()
			want = append(want, ip)
			if diff := cmp.Diff(want, r.calls(), opts...); diff != "" {
				t.Errorf("after removing %s: OnRestored calls (-want +got):\n%s", ip, diff)
			}
			if diff := cmp.Diff([]kernelAddr{ours(a4), ours(a6)}, f.kernel(testIndex), cmpopts.SortSlices(func(x, y kernelAddr) bool { return x.Prefix.Addr().Less(y.Prefix.Addr()) }), opts[0], opts[1]); diff != "" {
				t.Errorf("after removing %s: kernel (-want +got):\n%s", ip, diff)
			}
		}

		// An event on another interface about an address we do not care
		// about causes no reconcile.
		before, _ := f.stats()
		f.events.Send(netlinkUpdate(c4, 32, testIndex+1))
		synctest.Wait()
		if after, _ := f.stats(); after != before {
			t.Errorf("unrelated event caused %d reconciles, want 0", after-before)
		}
	})
}

// Without an event, the periodic reconcile finds and repairs the removal.
func TestStartRestoresOnTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(testIf, testIndex)
		var r recorder
		b := newWithNetlink(Config{Interface: testIf, ReconcileInterval: 3 * time.Second, OnRestored: r.onRestored}, f, testLogger(t))
		stop := runStart(t, b)
		defer stop()
		if _, err := b.Set(t.Context(), forever(a4)); err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		f.addrs[testIndex] = nil // removed without an event
		f.mu.Unlock()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if diff := cmp.Diff([]netip.Addr{a4}, r.calls(), opts...); diff != "" {
			t.Errorf("OnRestored calls (-want +got):\n%s", diff)
		}
	})
}

// A broken or failed subscription is replaced after resubscribeDelay, and
// every attempt is followed by a reconcile, since events may have been lost.
func TestStartResubscribes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(testIf, testIndex)
		f.events.FailNext(1)
		b := newWithNetlink(Config{Interface: testIf, ReconcileInterval: time.Hour}, f, testLogger(t))
		stop := runStart(t, b)
		defer stop()
		if lists, n := f.stats(); n != 0 || lists != 1 {
			t.Fatalf("after a failed subscribe: %d subscriptions, %d reconciles; want 0, 1", n, lists)
		}
		time.Sleep(resubscribeDelay)
		synctest.Wait()
		if lists, n := f.stats(); n != 1 || lists != 2 {
			t.Fatalf("after the retry delay: %d subscriptions, %d reconciles; want 1, 2", n, lists)
		}
		f.events.Last().Close() // as when the socket overflows
		synctest.Wait()
		if _, n := f.stats(); n != 1 {
			t.Errorf("subscriptions right after the channel closed = %d, want 1", n)
		}
		time.Sleep(resubscribeDelay)
		synctest.Wait()
		if lists, n := f.stats(); n != 2 || lists != 3 {
			t.Errorf("a retry delay after the channel closed: %d subscriptions, %d reconciles; want 2, 3", n, lists)
		}
	})
}

// The interface may be missing at start and appear later (re-created with a
// new index); the binder then adds the desired VIPs there.
func TestStartInterfaceAppears(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake("other0", 1)
		b := newWithNetlink(Config{Interface: testIf, ReconcileInterval: 5 * time.Second}, f, testLogger(t))
		if _, err := b.Set(t.Context(), forever(a4)); !errors.Is(err, ErrInterfaceNotFound) {
			t.Fatalf("Set() error = %v, want %v", err, ErrInterfaceNotFound)
		}
		stop := runStart(t, b)
		defer stop()
		f.mu.Lock()
		f.links[testIf] = 42
		f.mu.Unlock()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if diff := cmp.Diff([]kernelAddr{ours(a4)}, f.kernel(42), opts...); diff != "" {
			t.Errorf("kernel (-want +got):\n%s", diff)
		}
	})
}
