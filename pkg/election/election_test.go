package election

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	k8stesting "k8s.io/client-go/testing"

	coordinationv1 "k8s.io/api/coordination/v1"
)

var cfg = Config{
	LeaseName:      "vipkeeper-cp",
	LeaseNamespace: "kube-system",
	LeaseDuration:  5 * time.Second,
	RenewDeadline:  3 * time.Second,
	RetryPeriod:    time.Second,
}

// sink collects events in arrival order.
type sink struct {
	mu     sync.Mutex // guards events
	events []Event
}

func (s *sink) notify(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.Kind == Leader || e.Kind == Renewed {
		return // observational; not what these tests are about
	}
	s.events = append(s.events, e)
}

func (s *sink) get() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// newAPI returns a fake clientset that, like an API server, gives every
// write a new resourceVersion (the fake tracker alone keeps the old one).
func newAPI(objs ...runtime.Object) *fake.Clientset {
	cs := fake.NewClientset(objs...)
	var rv atomic.Int64
	rv.Store(100)
	cs.PrependReactor("*", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetVerb() != "create" && a.GetVerb() != "update" {
			return false, nil, nil
		}
		if o, ok := a.(k8stesting.CreateAction); ok {
			if l, ok := o.GetObject().(*coordinationv1.Lease); ok {
				l.ResourceVersion = strconv.FormatInt(rv.Add(1), 10)
			}
		}
		return false, nil, nil
	})
	return cs
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func start(ctx context.Context, id string, cs *fake.Clientset, s *sink) chan error {
	return startWith(ctx, id, cs, nil, s)
}

func startWith(ctx context.Context, id string, cs *fake.Clientset, watches *fake.Clientset, s *sink) chan error {
	c := cfg
	c.Identity = id
	var w coordinationv1client.LeasesGetter
	if watches != nil {
		w = watches.CoordinationV1()
	}
	e := New(c, cs.CoordinationV1(), w, s.notify, quiet())
	done := make(chan error, 1)
	go func() { done <- e.Start(ctx) }()
	return done
}

func TestElectAndRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := newAPI()
		var a, b sink
		ctxA, stopA := context.WithCancel(t.Context())
		doneA := start(ctxA, "n1", cs, &a)
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if diff := cmp.Diff([]Event{{Kind: Elected, Term: 1}}, a.get()); diff != "" {
			t.Fatalf("n1 events (-want +got):\n%s", diff)
		}

		ctxB, stopB := context.WithCancel(t.Context())
		defer stopB()
		doneB := start(ctxB, "n2", cs, &b)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := b.get(); len(got) != 0 {
			t.Fatalf("n2 won a held lease: %v", got)
		}

		// n1 stops: the lease is released, and n2 takes it within one
		// retry period (plus client-go's jitter) instead of a lease duration.
		stopA()
		if err := <-doneA; err != nil {
			t.Fatal(err)
		}
		released := time.Now()
		lease, err := cs.CoordinationV1().Leases("kube-system").Get(t.Context(), "vipkeeper-cp", metaGet)
		if err != nil {
			t.Fatal(err)
		}
		if h := lease.Spec.HolderIdentity; h != nil && *h != "" && *h != "n2" {
			t.Fatalf("holder after release = %q", *h)
		}
		for len(b.get()) == 0 && time.Since(released) < cfg.LeaseDuration {
			time.Sleep(10 * time.Millisecond)
		}
		// Without the watch, client-go's poll: every 1 to 2.2 retry periods.
		if took := time.Since(released); took > 2200*time.Millisecond+10*time.Millisecond {
			t.Errorf("n2 took %v to take a released lease; want ≤ 2.2 × retry period", took)
		}
		if diff := cmp.Diff([]Event{{Kind: Elected, Term: 1}}, b.get()); diff != "" {
			t.Errorf("n2 events (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]Event{{Kind: Elected, Term: 1}, {Kind: Lost, Term: 1}}, a.get()); diff != "" {
			t.Errorf("n1 events (-want +got):\n%s", diff)
		}
		stopB()
		<-doneB
	})
}

// TestCampaignsAgainAfterLoss: when renewals fail for longer than the renew
// deadline the term ends, and the elector campaigns again in-process and
// wins once the API answers again. client-go's Run alone would return.
func TestCampaignsAgainAfterLoss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := newAPI()
		var broken atomic.Bool
		cs.PrependReactor("*", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
			if broken.Load() {
				return true, nil, errors.New("connection refused")
			}
			return false, nil, nil
		})
		var s sink
		ctx, stop := context.WithCancel(t.Context())
		done := start(ctx, "n1", cs, &s)
		time.Sleep(100 * time.Millisecond)

		broken.Store(true)
		time.Sleep(cfg.RenewDeadline + 2*cfg.RetryPeriod)
		synctest.Wait()
		if diff := cmp.Diff([]Event{{Kind: Elected, Term: 1}, {Kind: Lost, Term: 1}}, s.get()); diff != "" {
			t.Fatalf("after API loss (-want +got):\n%s", diff)
		}

		broken.Store(false)
		// The record still names n1, so n1 renews it as its own at once.
		time.Sleep(3 * cfg.RetryPeriod)
		synctest.Wait()
		want := []Event{{Kind: Elected, Term: 1}, {Kind: Lost, Term: 1}, {Kind: Elected, Term: 2}}
		if diff := cmp.Diff(want, s.get()); diff != "" {
			t.Fatalf("after recovery (-want +got):\n%s", diff)
		}
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

var metaGet = metav1.GetOptions{}
