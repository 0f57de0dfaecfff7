package events

import (
	"context"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"

	"github.com/vipkeeper/vipkeeper/pkg/keeper"
)

var (
	vips = []netip.Addr{netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("2001:db8::100")}
	cfg  = Config{LeaseName: "vipkeeper", LeaseNamespace: "kube-system", Node: "n1"}
)

func lease() *coordinationv1.Lease {
	return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "vipkeeper", Namespace: "kube-system", UID: "lease-uid-1"}}
}

func TestEventFor(t *testing.T) {
	unbound := func(r keeper.Reason, detail string) keeper.Transition {
		return keeper.Transition{Change: keeper.Unbound, VIPs: vips, Reason: r, Detail: detail}
	}
	tests := []struct {
		t    keeper.Transition
		want string
	}{
		{keeper.Transition{Change: keeper.Acquired, VIPs: vips}, "Normal LeaseAcquired n1 acquired the lease"},
		{keeper.Transition{Change: keeper.Lost, VIPs: vips}, "Normal LeaseLost n1 no longer holds the lease"},
		{keeper.Transition{Change: keeper.Bound, VIPs: vips, Took: 3 * time.Millisecond},
			"Normal VIPBound n1 bound 192.0.2.100, 2001:db8::100 (took 3ms)"},
		{unbound(keeper.ReasonShutdown, ""),
			"Normal SteppedDown n1 stepped down (shutdown): unbound 192.0.2.100, 2001:db8::100: vipkeeper is shutting down"},
		{unbound(keeper.ReasonUnhealthy, "link down"),
			"Warning SteppedDown n1 stepped down (unhealthy): unbound 192.0.2.100, 2001:db8::100: unhealthy: link down"},
		{unbound(keeper.ReasonAPIServerNotReady, "status 500"),
			"Warning SteppedDown n1 stepped down (api_server_not_ready): unbound 192.0.2.100, 2001:db8::100: local API server not ready: status 500"},
		{unbound(keeper.ReasonAPIUnreachable, "lease not renewed in time"),
			"Warning SteppedDown n1 stepped down (api_unreachable): unbound 192.0.2.100, 2001:db8::100: API server unreachable; lease not renewed in time"},
		{unbound(keeper.ReasonClaimed, "claimed by 02:00:00:00:00:02"),
			"Warning SteppedDown n1 stepped down (claimed): unbound 192.0.2.100, 2001:db8::100: claimed by 02:00:00:00:00:02"},
		{unbound(keeper.ReasonLeaseLost, ""), "Warning SteppedDown n1 stepped down (lease_lost): unbound 192.0.2.100, 2001:db8::100"},
		{keeper.Transition{Change: keeper.Restored, VIPs: vips[:1]},
			"Warning VIPRestored n1 re-added 192.0.2.100 after something else removed it from the interface"},
	}
	for _, tt := range tests {
		typ, reason, msg, ok := eventFor(tt.t, "n1")
		if got := typ + " " + reason + " " + msg; !ok || got != tt.want {
			t.Errorf("%v %s: got %q (ok %v)\nwant %q", tt.t.Change, tt.t.Reason, got, ok, tt.want)
		}
	}
	if _, _, _, ok := eventFor(keeper.Transition{}, "n1"); ok {
		t.Error("an unknown change made an Event")
	}
}

// run hands each transition to the recorder with the Lease as object.
func TestRunWithFakeRecorder(t *testing.T) {
	cs := fake.NewClientset(lease())
	r := New(cfg, cs, slog.New(slog.DiscardHandler))
	rec := record.NewFakeRecorder(10)
	rec.IncludeObject = true
	r.Observe(keeper.Transition{Change: keeper.Acquired, VIPs: vips})
	r.Observe(keeper.Transition{Change: keeper.Unbound, VIPs: vips, Reason: keeper.ReasonUnhealthy, Detail: "link down"})
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // run drains the queue, then returns
	r.run(ctx, rec)
	close(rec.Events)
	var got []string
	for e := range rec.Events {
		got = append(got, e)
	}
	want := []string{
		"Normal LeaseAcquired n1 acquired the lease involvedObject{kind=Lease,apiVersion=coordination.k8s.io/v1}",
		"Warning SteppedDown n1 stepped down (unhealthy): unbound 192.0.2.100, 2001:db8::100: unhealthy: link down involvedObject{kind=Lease,apiVersion=coordination.k8s.io/v1}",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// Start writes the Events to the API, on the Lease (with its UID), and
// flushes what was queued before it returns.
func TestStartWritesToLease(t *testing.T) {
	cs := fake.NewClientset(lease())
	r := New(cfg, cs, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Start(ctx) }()
	r.Observe(keeper.Transition{Change: keeper.Acquired, VIPs: vips})
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if l, _ := cs.CoreV1().Events("kube-system").List(t.Context(), metav1.ListOptions{}); len(l.Items) > 0 {
			break
		}
	}
	// Queued just before shutdown: written by the flush.
	r.Observe(keeper.Transition{Change: keeper.Unbound, VIPs: vips, Reason: keeper.ReasonShutdown})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	list, err := cs.CoreV1().Events("kube-system").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]bool{}
	for _, e := range list.Items {
		reasons[e.Reason] = true
		want := corev1.ObjectReference{Kind: "Lease", APIVersion: "coordination.k8s.io/v1", Namespace: "kube-system", Name: "vipkeeper", UID: "lease-uid-1"}
		if diff := cmp.Diff(want, e.InvolvedObject); diff != "" {
			t.Errorf("involved object (-want +got):\n%s", diff)
		}
		if e.Source.Component != Component || e.Source.Host != "n1" {
			t.Errorf("source %+v, want %s on n1", e.Source, Component)
		}
	}
	if !reasons[ReasonAcquired] || !reasons[ReasonSteppedDown] {
		t.Errorf("events written: %v, want %s and %s", reasons, ReasonAcquired, ReasonSteppedDown)
	}
}

// A flapping node cannot flood the API server: past the burst, the
// correlator drops Events.
func TestFlappingIsRateLimited(t *testing.T) {
	cs := fake.NewClientset(lease())
	var writes atomic.Int32
	cs.PrependReactor("*", "events", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetVerb() == "create" || a.GetVerb() == "patch" {
			writes.Add(1)
		}
		return false, nil, nil
	})
	r := New(cfg, cs, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Start(ctx) }()
	for i := range 200 {
		change := keeper.Acquired
		if i%2 == 1 {
			change = keeper.Lost
		}
		r.Observe(keeper.Transition{Change: change, VIPs: vips})
		time.Sleep(time.Millisecond) // let the queue drain: this test is about the correlator
	}
	cancel()
	<-done
	// All Normal, so one token bucket (the spam key includes the type).
	if n := int(writes.Load()); n == 0 || n > correlatorOptions.BurstSize+1 {
		t.Errorf("%d Event writes for 200 transitions; want 1..%d", n, correlatorOptions.BurstSize+1)
	}
}
