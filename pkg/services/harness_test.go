package services

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/vipkeeper/vipkeeper/pkg/election"
)

// The harness of the controller tests: whole controllers in a synctest
// bubble, each with a fake node Lease that renews in virtual time.

// fakeNodeLease holds vipkeeper-node-<node> in the fake API, renewing it
// every period while it is a candidate, and reports like pkg/election.
type fakeNodeLease struct {
	client kubernetes.Interface
	node   string
	notify func(election.Event)
	period time.Duration
	// annotations, if not nil, are set on every write, as
	// election.Config.Annotations are.
	annotations func() map[string]string

	mu        sync.Mutex
	candidate bool
}

func (l *fakeNodeLease) SetCandidate(ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.candidate = ok
}

func (l *fakeNodeLease) Start(ctx context.Context) error {
	t := time.NewTicker(l.period)
	defer t.Stop()
	leases := l.client.CoordinationV1().Leases(ns)
	name := NodeLeasePrefix + l.node
	elected := false
	for {
		l.mu.Lock()
		cand := l.candidate
		l.mu.Unlock()
		holder := ""
		if cand {
			holder = l.node
		}
		at := time.Now()
		lease := &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{LabelRole: RoleNode},
				ResourceVersion: at.Format(time.RFC3339Nano)},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder)},
		}
		if l.annotations != nil && cand {
			lease.Annotations = map[string]string{}
			for k, v := range l.annotations() {
				if v != "" {
					lease.Annotations[k] = v
				}
			}
		}
		_, err := leases.Update(context.WithoutCancel(ctx), lease, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			_, err = leases.Create(context.WithoutCancel(ctx), lease, metav1.CreateOptions{})
		}
		if err == nil && cand {
			if !elected {
				elected = true
				l.notify(election.Event{Kind: election.Elected, Term: 1})
			}
			l.notify(election.Event{Kind: election.Renewed, Term: 1, At: at})
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

type node struct {
	name   string
	ctrl   *Controller
	binder *fakeBinder
	links  *fakeLinks
	cancel context.CancelFunc
	done   chan error
}

// startNode runs one controller, with lease duration 1s, renewing its
// node Lease every 100 ms. It must be called inside a synctest bubble.
func startNode(t *testing.T, client kubernetes.Interface, name string, defaultClass bool) *node {
	t.Helper()
	return startNodeWith(t, client, name, func(c *Config) { c.DefaultClass = defaultClass })
}

// startNodeWith is startNode with the configuration changed by tweak.
func startNodeWith(t *testing.T, client kubernetes.Interface, name string, tweak func(*Config)) *node {
	t.Helper()
	return startNodeDeps(t, client, name, tweak, func(*Deps) {})
}

// startNodeDeps is startNodeWith with the dependencies changed by deps.
func startNodeDeps(t *testing.T, client kubernetes.Interface, name string, tweak func(*Config), deps func(*Deps)) *node {
	t.Helper()
	n := &node{name: name, binder: &fakeBinder{}, links: &fakeLinks{}, done: make(chan error, 1)}
	lease := &fakeNodeLease{client: client, node: name, period: 100 * time.Millisecond}
	cfg := Config{
		Node: name, Namespace: ns, Pools: testPools,
		LeaseDuration: time.Second, RenewDeadline: 600 * time.Millisecond, SafetyMargin: 200 * time.Millisecond,
		Healthy: true,
	}
	tweak(&cfg)
	d := Deps{Client: client, Informers: client, Binder: n.binder, NodeLease: lease, Links: n.links}
	deps(&d)
	ctrl, err := New(cfg, d, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	lease.notify, lease.annotations = ctrl.NodeLeaseEvent, ctrl.NodeLeaseAnnotations
	// The fake clientset hands one object to every watcher; a real watch
	// decodes its own.
	ctrl.transform = func(o any) (any, error) {
		if obj, ok := o.(runtime.Object); ok {
			o = obj.DeepCopyObject()
		}
		return trim(o)
	}
	n.ctrl = ctrl
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() { n.done <- ctrl.Start(ctx) }()
	t.Cleanup(n.stop)
	return n
}

// stop ends the node's controller and waits for Start to return: its
// informers, node Lease, writes and probes have all ended by then.
func (n *node) stop() {
	if n.cancel != nil {
		n.cancel()
		<-n.done
		n.cancel = nil
	}
}

// settle lets d of virtual time pass, then waits until every goroutine
// of the bubble is idle. Every step of these tests is at most a few lease
// durations (1 s), and what it waits for is a chain of writes and watch
// events that takes no virtual time at all, or a node Lease expiring.
func settle(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// Steps of virtual time: soon covers writes, watch events and retries
// after a failed write (retryAfter, 1 s); expiry also covers a node Lease
// expiring (lease duration 1 s) and the quorum read after it.
const (
	soon   = 2 * time.Second
	expiry = 3 * time.Second
)

func ingressOf(t *testing.T, c kubernetes.Interface, name string) []string {
	t.Helper()
	s, err := c.CoreV1().Services("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	var out []string
	for _, in := range s.Status.LoadBalancer.Ingress {
		out = append(out, in.IP)
	}
	return out
}

func bound(n *node, addr string) bool { return n.binder.has(addr) }

func claimHolder(c kubernetes.Interface, key string) (string, bool) {
	l, err := c.CoordinationV1().Leases(ns).Get(context.Background(), ClaimLeaseName(key), metav1.GetOptions{})
	if err != nil {
		return "", false
	}
	return ptr.Deref(l.Spec.HolderIdentity, ""), true
}

// warned reports whether the Service name has a Warning event of reason.
func warned(c kubernetes.Interface, name, reason string) bool {
	evs, _ := c.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
	for _, e := range evs.Items {
		if e.InvolvedObject.Name == name && e.Reason == reason && e.Type == corev1.EventTypeWarning {
			return true
		}
	}
	return false
}
