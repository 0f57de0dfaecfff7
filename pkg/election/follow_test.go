package election

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

// counted counts the requests one node makes, by verb, and makes the fake
// API's watches behave like an API server's: they begin with the object as
// it is (an ADDED event) and end when their window does.
type counted struct {
	api     coordinationv1client.LeasesGetter
	dropped chan struct{} // closed: the server ends every watch
	stalled atomic.Bool   // the watches deliver nothing (a dead connection)
	mu      sync.Mutex    // guards n
	n       map[string]int
}

func count(cs *fake.Clientset) *counted {
	return &counted{api: cs.CoordinationV1(), n: map[string]int{}, dropped: make(chan struct{})}
}

// dropWatches ends the open watches, as a server going away does.
func (c *counted) dropWatches() { close(c.dropped) }

func (c *counted) add(verb string) {
	c.mu.Lock()
	c.n[verb]++
	c.mu.Unlock()
}

// take returns the counts so far and resets them.
func (c *counted) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int{}
	return n
}

func (c *counted) Leases(ns string) coordinationv1client.LeaseInterface {
	return &countedLeases{LeaseInterface: c.api.Leases(ns), c: c}
}

type countedLeases struct {
	coordinationv1client.LeaseInterface
	c *counted
}

func (l *countedLeases) Get(ctx context.Context, name string, o metav1.GetOptions) (*coordinationv1.Lease, error) {
	l.c.add("get")
	return l.LeaseInterface.Get(ctx, name, o)
}

func (l *countedLeases) Update(ctx context.Context, le *coordinationv1.Lease, o metav1.UpdateOptions) (*coordinationv1.Lease, error) {
	l.c.add("update")
	return l.LeaseInterface.Update(ctx, le, o)
}

func (l *countedLeases) Create(ctx context.Context, le *coordinationv1.Lease, o metav1.CreateOptions) (*coordinationv1.Lease, error) {
	l.c.add("create")
	return l.LeaseInterface.Create(ctx, le, o)
}

func (l *countedLeases) Watch(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
	l.c.add("watch")
	w, err := l.LeaseInterface.Watch(ctx, o)
	if err != nil {
		return nil, err
	}
	var first []watch.Event
	if cur, err := l.LeaseInterface.Get(ctx, cfg.LeaseName, metav1.GetOptions{}); err == nil {
		first = append(first, watch.Event{Type: watch.Added, Object: cur})
	}
	out := make(chan watch.Event)
	pw := watch.NewProxyWatcher(out)
	go func() {
		defer close(out)
		defer w.Stop()
		window := time.NewTimer(time.Duration(ptr.Deref(o.TimeoutSeconds, 30)) * time.Second)
		defer window.Stop()
		for {
			var ev watch.Event
			if len(first) > 0 {
				ev, first = first[0], first[1:]
			} else {
				select {
				case <-window.C:
					return
				case <-l.c.dropped:
					return
				case <-pw.StopChan():
					return
				case e, ok := <-w.ResultChan():
					if !ok {
						return
					}
					ev = e
				}
			}
			if l.c.stalled.Load() {
				continue
			}
			select {
			case out <- ev:
			case <-pw.StopChan():
				return
			}
		}
	}()
	return pw, nil
}

// holder renews the Lease as node name every retry period until stopped,
// as the test's own client (not counted).
func holder(t *testing.T, cs *fake.Clientset, name string) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := int32(0); ; i++ {
			writeLease(t, cs, name, i)
			select {
			case <-ctx.Done():
				return
			case <-time.After(cfg.RetryPeriod):
			}
		}
	}()
	return func() { cancel(); <-done }
}

// writeLease writes the Lease naming holder (empty: released).
func writeLease(t *testing.T, cs *fake.Clientset, holder string, n int32) {
	l, err := cs.CoordinationV1().Leases(cfg.LeaseNamespace).Get(context.Background(), cfg.LeaseName, metav1.GetOptions{})
	if err != nil {
		t.Error(err)
		return
	}
	l.Spec.HolderIdentity = ptr.To(holder)
	l.Spec.LeaseTransitions = ptr.To(n) // any change makes a new version
	if _, err := cs.CoordinationV1().Leases(cfg.LeaseNamespace).Update(context.Background(), l, metav1.UpdateOptions{}); err != nil {
		t.Error(err)
	}
}

func follow(ctx context.Context, reads, watches coordinationv1client.LeasesGetter, s *sink) chan error {
	c := cfg
	c.Identity = "n2"
	e := New(c, reads, watches, s.notify, quiet())
	done := make(chan error, 1)
	go func() { done <- e.Start(ctx) }()
	return done
}

// TestFollowerMakesNoRequests: while its watch is healthy a follower makes
// no request over many lease periods (client-go's polls are served from
// the watched Lease); only the watch is renewed, once per window.
func TestFollowerMakesNoRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := newAPI(heldLease("n1", time.Now()))
		stopHolder := holder(t, cs, "n1")
		c := count(cs)
		var s sink
		ctx, stop := context.WithCancel(t.Context())
		done := follow(ctx, c, c, &s)
		time.Sleep(2 * time.Second) // the watch is established
		synctest.Wait()
		c.take()

		time.Sleep(20 * cfg.LeaseDuration)
		synctest.Wait()
		got := c.take()
		// 100 s: the watch's 30 s windows, and nothing else.
		if diff := cmp.Diff(map[string]int{"watch": 3}, got); diff != "" {
			t.Errorf("requests over 20 lease periods (-want +got):\n%s", diff)
		}
		if len(s.get()) != 0 {
			t.Errorf("follower events while the holder renewed: %v", s.get())
		}
		stop()
		<-done
		stopHolder()
	})
}

// TestFollowerAcquiresOnRelease: a released lease is taken within one
// round trip: the write (the read is served from the watch).
func TestFollowerAcquiresOnRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := newAPI(heldLease("n1", time.Now()))
		stopHolder := holder(t, cs, "n1")
		c := count(cs)
		var s sink
		ctx, stop := context.WithCancel(t.Context())
		done := follow(ctx, c, c, &s)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		stopHolder()
		c.take()

		writeLease(t, cs, "", 99)
		took := waitElected(t, &s, time.Now(), time.Second)
		if took > 10*time.Millisecond {
			t.Errorf("released lease taken after %v; want at once", took)
		}
		// The write that takes it and client-go's first renewal, which
		// follows at once; no read.
		if diff := cmp.Diff(map[string]int{"update": 2}, c.take()); diff != "" {
			t.Errorf("requests to take a released lease (-want +got):\n%s", diff)
		}
		stop()
		<-done
	})
}

// TestFollowerAcquiresAtExpiry: a holder that stops renewing loses the
// lease one lease duration after its last renewal — the silent watch is
// not blindness — with a single request.
func TestFollowerAcquiresAtExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := newAPI(heldLease("n1", time.Now()))
		stopHolder := holder(t, cs, "n1")
		c := count(cs)
		var s sink
		ctx, stop := context.WithCancel(t.Context())
		done := follow(ctx, c, c, &s)
		time.Sleep(7 * time.Second)
		synctest.Wait()
		stopHolder() // crashed
		last := time.Now()
		synctest.Wait()
		c.take()

		took := waitElected(t, &s, last, 3*cfg.LeaseDuration)
		if took < cfg.LeaseDuration || took > cfg.LeaseDuration+50*time.Millisecond {
			t.Errorf("expired lease taken %v after the last renewal; want lease duration %v (+50ms)", took, cfg.LeaseDuration)
		}
		// The write that takes it and client-go's first renewal.
		if diff := cmp.Diff(map[string]int{"update": 2}, c.take()); diff != "" {
			t.Errorf("requests to take an expired lease (-want +got):\n%s", diff)
		}
		stop()
		<-done
	})
}

// TestBrokenWatchFallsBackToReading: a follower whose watch fails reads
// the Lease as client-go polls it, and still never takes a renewed lease.
func TestBrokenWatchFallsBackToReading(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := newAPI(heldLease("n1", time.Now()))
		var broken atomic.Bool
		cs.PrependWatchReactor("leases", func(k8stesting.Action) (bool, watch.Interface, error) {
			if broken.Load() {
				return true, nil, errors.New("connection refused")
			}
			return false, nil, nil
		})
		stopHolder := holder(t, cs, "n1")
		c := count(cs)
		var s sink
		ctx, stop := context.WithCancel(t.Context())
		done := follow(ctx, c, c, &s)
		time.Sleep(2 * time.Second)
		broken.Store(true)
		c.dropWatches()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		got := c.take()
		// client-go polls every 1–2.2 retry periods: 10 s makes 4 to 10 reads.
		if got["get"] < 4 || got["get"] > 11 {
			t.Errorf("reads over 10 s with a broken watch = %d, want 4 to 10 (%v)", got["get"], got)
		}
		if len(s.get()) != 0 {
			t.Errorf("follower events while the holder renewed: %v", s.get())
		}
		stop()
		<-done
		stopHolder()
	})
}

// TestStalledWatchCannotTakeRenewedLease: a watch that stops delivering
// (a dead connection) makes the follower think the lease expired, but its
// write is a compare-and-swap on the old version: it conflicts, the copy
// is dropped, the follower reads the renewals and never takes the lease.
func TestStalledWatchCannotTakeRenewedLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := newAPI(heldLease("n1", time.Now()))
		// Like an API server, refuse a write based on an old version.
		cs.PrependReactor("update", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
			l := a.(k8stesting.UpdateAction).GetObject().(*coordinationv1.Lease)
			cur, err := cs.Tracker().Get(coordinationv1.SchemeGroupVersion.WithResource("leases"), l.Namespace, l.Name)
			if err == nil && cur.(*coordinationv1.Lease).ResourceVersion != l.ResourceVersion {
				return true, nil, apierrors.NewConflict(coordinationv1.Resource("leases"), l.Name, errors.New("old version"))
			}
			return false, nil, nil
		})
		stopHolder := holder(t, cs, "n1")
		c := count(cs)
		var s sink
		ctx, stop := context.WithCancel(t.Context())
		done := follow(ctx, c, c, &s)
		time.Sleep(2 * time.Second)
		c.stalled.Store(true)
		time.Sleep(4 * cfg.LeaseDuration)
		synctest.Wait()
		for _, e := range s.get() {
			if e.Kind == Elected {
				t.Fatalf("follower elected while the holder renewed: %v", s.get())
			}
		}
		if got := c.take(); got["update"] == 0 || got["get"] == 0 {
			t.Errorf("requests = %v; want a conflicting write, then reads", got)
		}
		stop()
		<-done
		stopHolder()
	})
}

// TestBlindRestartsClock: once told the API server was unreachable (the
// watchdog's verdict), a follower does not trust its silent watch: it
// gives the holder a full lease duration from its next observation.
func TestBlindRestartsClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := newAPI(heldLease("n1", time.Now())) // n1 renews no more
		c := count(cs)
		var s sink
		cf := cfg
		cf.Identity = "n2"
		e := New(cf, c, c, s.notify, quiet())
		ctx, stop := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- e.Start(ctx) }()
		time.Sleep(3 * time.Second)
		blind := time.Now()
		e.Blind()
		took := waitElected(t, &s, blind, 4*cfg.LeaseDuration)
		if took < cfg.LeaseDuration {
			t.Errorf("elected %v after being told it was blind; want ≥ lease duration %v", took, cfg.LeaseDuration)
		}
		stop()
		<-done
	})
}
