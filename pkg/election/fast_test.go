package election

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

// waitElected polls the sink in fake time and returns how long the first
// Elected took, or fails after limit.
func waitElected(t *testing.T, s *sink, from time.Time, limit time.Duration) time.Duration {
	t.Helper()
	for time.Since(from) < limit {
		for _, e := range s.get() {
			if e.Kind == Elected {
				return time.Since(from)
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("not elected within %v", limit)
	return 0
}

func heldLease(holder string, renewed time.Time) *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: cfg.LeaseName, Namespace: cfg.LeaseNamespace, ResourceVersion: "1"},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(holder),
			LeaseDurationSeconds: ptr.To(int32(5)),
			RenewTime:            ptr.To(metav1.NewMicroTime(renewed)),
			AcquireTime:          ptr.To(metav1.NewMicroTime(renewed)),
		},
	}
}

// TestReleasedLeaseTakenAtOnce: with the watch, a follower takes a released
// lease in milliseconds, not at its next poll (up to 2.2 retry periods).
func TestReleasedLeaseTakenAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := newAPI()
		var a, b sink
		ctxA, stopA := context.WithCancel(t.Context())
		doneA := startWith(ctxA, "n1", cs, cs, &a)
		waitElected(t, &a, time.Now(), time.Second)
		ctxB, stopB := context.WithCancel(t.Context())
		defer stopB()
		doneB := startWith(ctxB, "n2", cs, cs, &b)
		time.Sleep(7 * time.Second) // several of n2's polls
		synctest.Wait()

		stopA()
		<-doneA
		took := waitElected(t, &b, time.Now(), 3*time.Second)
		if took > 50*time.Millisecond {
			t.Errorf("released lease taken after %v; want ≤ 50ms", took)
		}
		stopB()
		<-doneB
	})
}

// TestExpiredLeaseTakenAtExpiry: a holder that stopped renewing (crashed)
// loses the lease exactly one lease duration after the follower last saw it
// change — never earlier, and not a poll period later.
func TestExpiredLeaseTakenAtExpiry(t *testing.T) {
	for _, watch := range []bool{true, false} {
		t.Run(map[bool]string{true: "watch", false: "poll only"}[watch], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cs := newAPI(heldLease("crashed", time.Now()))
				var b sink
				ctx, stop := context.WithCancel(t.Context())
				var w *fake.Clientset
				if watch {
					w = cs
				}
				seen := time.Now()
				done := startWith(ctx, "n2", cs, w, &b)
				took := waitElected(t, &b, seen, 3*cfg.LeaseDuration)
				if took < cfg.LeaseDuration {
					t.Fatalf("took a live lease after %v; lease duration %v", took, cfg.LeaseDuration)
				}
				// Without the watch the follower still uses its expiry timer.
				if took > cfg.LeaseDuration+50*time.Millisecond {
					t.Errorf("expired lease taken after %v; want ≤ lease duration + 50ms", took)
				}
				stop()
				<-done
			})
		})
	}
}

// TestRenewalsKeepLease: a follower never takes a lease whose holder keeps
// renewing, even several times within one second (the record's JSON has
// second precision; the resourceVersion does not).
func TestRenewalsKeepLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := newAPI(heldLease("n1", time.Now()))
		var b sink
		ctx, stop := context.WithCancel(t.Context())
		done := startWith(ctx, "n2", cs, cs, &b)
		for i := range 60 { // 15 s of renewals every 250ms, same renewTime second
			time.Sleep(250 * time.Millisecond)
			l, err := cs.CoordinationV1().Leases(cfg.LeaseNamespace).Get(t.Context(), cfg.LeaseName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			l.Spec.LeaseTransitions = ptr.To(int32(i)) // any change makes a new version
			if _, err := cs.CoordinationV1().Leases(cfg.LeaseNamespace).Update(t.Context(), l, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		for _, e := range b.get() {
			if e.Kind == Elected {
				t.Fatalf("follower elected while the holder renewed: %v", b.get())
			}
		}
		stop()
		<-done
	})
}

// TestCandidacy: a leader that stops being a candidate releases the lease
// and does not campaign until it is one again.
func TestCandidacy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := newAPI()
		var a sink
		c := cfg
		c.Identity = "n1"
		e := New(c, cs.CoordinationV1(), cs.CoordinationV1(), a.notify, quiet())
		ctx, stop := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- e.Start(ctx) }()
		waitElected(t, &a, time.Now(), time.Second)

		e.SetCandidate(false)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		l, err := cs.CoordinationV1().Leases(cfg.LeaseNamespace).Get(t.Context(), cfg.LeaseName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if h := ptr.Deref(l.Spec.HolderIdentity, ""); h != "" {
			t.Errorf("holder after leaving = %q, want released", h)
		}
		want := []Event{{Kind: Elected, Term: 1}, {Kind: Lost, Term: 1}}
		if diff := cmp.Diff(want, a.get()); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}

		e.SetCandidate(true)
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		want = append(want, Event{Kind: Elected, Term: 2})
		if diff := cmp.Diff(want, a.get()); diff != "" {
			t.Errorf("events after rejoining (-want +got):\n%s", diff)
		}
		stop()
		<-done
	})
}

// TestOutageRestartsFollowerClock: a follower that could not read the
// Lease during an outage does not take the lease the moment the API is back
// (nobody could renew during the outage); it gives the holder a full lease
// duration from its first read after the gap.
func TestOutageRestartsFollowerClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := newAPI(heldLease("n1", time.Now()))
		var broken atomic.Bool
		cs.PrependReactor("*", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
			if broken.Load() {
				return true, nil, errors.New("connection refused")
			}
			return false, nil, nil
		})
		var b sink
		ctx, stop := context.WithCancel(t.Context())
		done := startWith(ctx, "n2", cs, nil, &b)
		time.Sleep(time.Second)
		broken.Store(true)
		time.Sleep(20 * time.Second)
		broken.Store(false)
		back := time.Now()
		took := waitElected(t, &b, back, 4*cfg.LeaseDuration)
		if took < cfg.LeaseDuration {
			t.Errorf("follower took the lease %v after the API came back; want ≥ lease duration %v", took, cfg.LeaseDuration)
		}
		stop()
		<-done
	})
}
