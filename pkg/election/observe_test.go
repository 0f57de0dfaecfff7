package election

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

// writes counts the lease writes reported to the Observer.
type writes struct {
	mu       sync.Mutex // guards the fields below
	ok, fail int
}

func (w *writes) LeaseWrite(_ time.Duration, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.fail++
	} else {
		w.ok++
	}
}

func (w *writes) get() (ok, fail int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ok, w.fail
}

func TestObserverSeesWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := newAPI()
		// Installed before anything runs: the fake's reactor chain is not
		// safe to change while requests are in flight.
		var failing atomic.Bool
		cs.PrependReactor("update", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
			if failing.Load() {
				return true, nil, errors.New("etcd unavailable")
			}
			return false, nil, nil
		})
		var w writes
		var s sink
		c := cfg
		c.Identity = "n1"
		c.Observer = &w
		e := New(c, cs.CoordinationV1(), nil, s.notify, quiet())
		ctx, stop := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- e.Start(ctx) }()

		// The create that acquires, then a renewal per retry period.
		time.Sleep(3500 * time.Millisecond)
		synctest.Wait()
		ok, fail := w.get()
		if ok < 3 || fail != 0 {
			t.Fatalf("after 3.5 s: %d good and %d failed writes, want ≥ 3 and 0", ok, fail)
		}

		failing.Store(true)
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if _, fail := w.get(); fail == 0 {
			t.Errorf("no failed write reported while updates fail")
		}
		failing.Store(false)

		// The release (an update that names nobody) is not a renewal.
		time.Sleep(2 * time.Second)
		synctest.Wait()
		before, _ := w.get()
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if after, _ := w.get(); after != before {
			t.Errorf("the release was reported as a write (%d → %d)", before, after)
		}
	})
}
