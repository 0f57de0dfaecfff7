package services

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/vipkeeper/vipkeeper/pkg/election"
	"github.com/vipkeeper/vipkeeper/pkg/services/ipam"
)

// These tests run controllers against client-go's fake clientset, which
// has informers but no compare-and-swap; the owner package's simulation
// and the lab cover the races. Waits poll with a generous bound and
// assert on outcomes, never on how long they took.

const ns = "vipkeeper-system"

var testPools = []ipam.PoolSpec{{Name: "lab", Addresses: []string{"203.0.113.0/28", "2001:db8:1::/124"}}}

// fakeBinder records the Service VIPs a controller hands over.
type fakeBinder struct {
	mu  sync.Mutex
	set []netip.Addr
}

func (b *fakeBinder) SetServiceVIPs(_ context.Context, addrs []netip.Addr, _ time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.set = slices.Clone(addrs)
	return nil
}

func (b *fakeBinder) get() []netip.Addr {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.set)
}

// fakeNodeLease holds vipkeeper-node-<node> in the fake API, renewing it
// every period while it is a candidate, and reports like pkg/election.
type fakeNodeLease struct {
	client kubernetes.Interface
	node   string
	notify func(election.Event)
	period time.Duration

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
	cancel context.CancelFunc
	done   chan error
}

// startNode runs one controller, with lease duration 1s, renewing its
// node Lease every 100 ms.
func startNode(t *testing.T, client kubernetes.Interface, name string, defaultClass bool) *node {
	t.Helper()
	n := &node{name: name, binder: &fakeBinder{}, done: make(chan error, 1)}
	lease := &fakeNodeLease{client: client, node: name, period: 100 * time.Millisecond}
	ctrl, err := New(Config{
		Node: name, Namespace: ns, DefaultClass: defaultClass, Pools: testPools,
		LeaseDuration: time.Second, RenewDeadline: 600 * time.Millisecond, SafetyMargin: 200 * time.Millisecond,
		Healthy: true,
	}, Deps{Client: client, Informers: client, Binder: n.binder, NodeLease: lease}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	lease.notify = ctrl.NodeLeaseEvent
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

func (n *node) stop() {
	if n.cancel != nil {
		n.cancel()
		<-n.done
		n.cancel = nil
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type svcOpt func(*corev1.Service)

func lbService(name string, opts ...svcOpt) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: metav1.Now()},
		Spec: corev1.ServiceSpec{
			Type:              corev1.ServiceTypeLoadBalancer,
			LoadBalancerClass: ptr.To(Class),
			Ports:             []corev1.ServicePort{{Protocol: corev1.ProtocolTCP, Port: 80}},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func withClass(c *string) svcOpt { return func(s *corev1.Service) { s.Spec.LoadBalancerClass = c } }
func requesting(a string) svcOpt {
	return func(s *corev1.Service) { s.Annotations = map[string]string{ipam.AnnotationLoadBalancerIPs: a} }
}
func local() svcOpt {
	return func(s *corev1.Service) {
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		s.Spec.Selector = map[string]string{"app": s.Name}
	}
}

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

func bound(n *node, addr string) bool {
	return slices.Contains(n.binder.get(), netip.MustParseAddr(addr))
}

func claimHolder(c kubernetes.Interface, key string) (string, bool) {
	l, err := c.CoordinationV1().Leases(ns).Get(context.Background(), ClaimLeaseName(key), metav1.GetOptions{})
	if err != nil {
		return "", false
	}
	return ptr.Deref(l.Spec.HolderIdentity, ""), true
}

func TestSingleNodeLifecycle(t *testing.T) {
	c := fake.NewClientset()
	ctx := context.Background()
	mk := func(s *corev1.Service) {
		if _, err := c.CoreV1().Services("default").Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mk(lbService("auto"))
	mk(lbService("wants-7", requesting("203.0.113.7")))
	mk(lbService("other", withClass(ptr.To("example.com/other"))))
	mk(lbService("no-class", withClass(nil)))
	mk(lbService("outside", requesting("198.51.100.9")))
	n := startNode(t, c, "n1", false)

	eventually(t, "statuses", func() bool {
		return slices.Equal(ingressOf(t, c, "auto"), []string{"203.0.113.1"}) &&
			slices.Equal(ingressOf(t, c, "wants-7"), []string{"203.0.113.7"})
	})
	eventually(t, "both bound", func() bool { return bound(n, "203.0.113.1") && bound(n, "203.0.113.7") })
	if h, ok := claimHolder(c, "203.0.113.7"); !ok || h != "n1" {
		t.Errorf("claim of 203.0.113.7: holder %q, exists %v; want n1", h, ok)
	}
	if h, ok := claimHolder(c, AllocatorKey); !ok || h != "n1" {
		t.Errorf("allocator claim: holder %q, exists %v; want n1", h, ok)
	}
	for _, name := range []string{"other", "no-class", "outside"} {
		if got := ingressOf(t, c, name); len(got) != 0 {
			t.Errorf("%s: status %v, want none", name, got)
		}
	}
	eventually(t, "a Warning for the unmet request", func() bool {
		evs, _ := c.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
		for _, e := range evs.Items {
			if e.InvolvedObject.Name == "outside" && e.Reason == ReasonAllocationFailed && e.Type == corev1.EventTypeWarning {
				return true
			}
			if e.InvolvedObject.Name == "other" || e.InvolvedObject.Name == "no-class" {
				t.Errorf("event on a Service of another class: %s %s", e.Reason, e.Message)
			}
		}
		return false
	})

	// Delete: unbound and the claim gone.
	if err := c.CoreV1().Services("default").Delete(ctx, "wants-7", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "203.0.113.7 released", func() bool {
		_, exists := claimHolder(c, "203.0.113.7")
		return !bound(n, "203.0.113.7") && !exists
	})
	if !bound(n, "203.0.113.1") {
		t.Error("203.0.113.1 unbound by another Service's delete")
	}

	// A type change takes our address out of the status.
	s, _ := c.CoreV1().Services("default").Get(ctx, "auto", metav1.GetOptions{})
	s.Spec.Type = corev1.ServiceTypeClusterIP
	s.Spec.LoadBalancerClass = nil
	if _, err := c.CoreV1().Services("default").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "status cleared and unbound", func() bool {
		return len(ingressOf(t, c, "auto")) == 0 && !bound(n, "203.0.113.1")
	})

	// Shutdown: the node Lease is left to the fake (nothing to release).
	n.stop()
}

func TestUnhealthyHandsOver(t *testing.T) {
	c := fake.NewClientset()
	n1 := startNode(t, c, "n1", true)
	n2 := startNode(t, c, "n2", true)
	if _, err := c.CoreV1().Services("default").Create(context.Background(), lbService("web", withClass(nil)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var holder, other *node
	eventually(t, "web bound on one node", func() bool {
		a, b := bound(n1, "203.0.113.1"), bound(n2, "203.0.113.1")
		switch {
		case a && !b:
			holder, other = n1, n2
		case b && !a:
			holder, other = n2, n1
		}
		return a != b
	})
	holder.ctrl.Health(false)
	eventually(t, "web moved", func() bool { return !bound(holder, "203.0.113.1") && bound(other, "203.0.113.1") })
	if h, _ := claimHolder(c, "203.0.113.1"); h != other.name {
		t.Errorf("claim names %q, want %s", h, other.name)
	}
	// Healthy again: the address stays where it is (sticky).
	holder.ctrl.Health(true)
	time.Sleep(300 * time.Millisecond)
	if bound(holder, "203.0.113.1") {
		t.Error("address pulled back to the recovered node")
	}
}

func TestNodeDeathMovesAddresses(t *testing.T) {
	c := fake.NewClientset()
	nodes := []*node{startNode(t, c, "n1", false), startNode(t, c, "n2", false), startNode(t, c, "n3", false)}
	ctx := context.Background()
	for _, name := range []string{"a", "b", "c", "d", "e", "f"} {
		if _, err := c.CoreV1().Services("default").Create(ctx, lbService(name), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	addrs := []string{"203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4", "203.0.113.5", "203.0.113.6"}
	owners := func() (map[string][]string, bool) {
		m := map[string][]string{}
		for _, a := range addrs {
			for _, n := range nodes {
				if n.cancel != nil && bound(n, a) {
					m[a] = append(m[a], n.name)
				}
			}
		}
		for _, a := range addrs {
			if len(m[a]) != 1 {
				return m, false
			}
		}
		return m, true
	}
	eventually(t, "every address on exactly one node", func() bool { _, ok := owners(); return ok })
	// Kill the node with the most addresses: no release, its Lease expires.
	m, _ := owners()
	count := map[string]int{}
	for _, o := range m {
		count[o[0]]++
	}
	victim := nodes[0]
	for _, n := range nodes {
		if count[n.name] > count[victim.name] {
			victim = n
		}
	}
	if count[victim.name] == 0 {
		t.Fatalf("no node holds anything: %v", m)
	}
	victim.cancel()
	<-victim.done
	victim.cancel = nil
	eventually(t, "the dead node's addresses on the survivors", func() bool { _, ok := owners(); return ok })
	m, _ = owners()
	for a, o := range m {
		if o[0] == victim.name {
			t.Errorf("%s still on the dead node", a)
		}
	}
}

func TestLocalFollowsEndpoints(t *testing.T) {
	c := fake.NewClientset()
	ctx := context.Background()
	nodes := map[string]*node{}
	for _, name := range []string{"n1", "n2", "n3"} {
		nodes[name] = startNode(t, c, name, false)
	}
	if _, err := c.CoreV1().Services("default").Create(ctx, lbService("loc", local()), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	slice := func(node string) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: "loc-x", Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: "loc"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.77"}, NodeName: ptr.To(node),
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		}
	}
	if _, err := c.DiscoveryV1().EndpointSlices("default").Create(ctx, slice("n2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	only := func(want string) func() bool {
		return func() bool {
			for name, n := range nodes {
				if bound(n, "203.0.113.1") != (name == want) {
					return false
				}
			}
			return true
		}
	}
	eventually(t, "loc on n2", only("n2"))
	if _, err := c.DiscoveryV1().EndpointSlices("default").Update(ctx, slice("n3"), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "loc on n3", only("n3"))
	if err := c.DiscoveryV1().EndpointSlices("default").Delete(ctx, "loc-x", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "loc nowhere", only(""))
	if got := ingressOf(t, c, "loc"); !slices.Equal(got, []string{"203.0.113.1"}) {
		t.Errorf("status %v: an address without endpoints stays allocated", got)
	}
}

// TestNewTermKeepsOwnClaims: a node whose Lease lapsed without a release
// (an API outage) and is taken again in a new term keeps its addresses
// bound while it rewrites its claims — no drop after every outage.
func TestNewTermKeepsOwnClaims(t *testing.T) {
	c := fake.NewClientset()
	n := startNode(t, c, "n1", false)
	if _, err := c.CoreV1().Services("default").Create(context.Background(), lbService("web"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "web bound", func() bool { return bound(n, "203.0.113.1") })
	transitions := func() int32 {
		l, err := c.CoordinationV1().Leases(ns).Get(context.Background(), ClaimLeaseName("203.0.113.1"), metav1.GetOptions{})
		if err != nil {
			return -1
		}
		return ptr.Deref(l.Spec.LeaseTransitions, 0)
	}
	before := transitions()
	// The new term first, then the old term's end (client-go may deliver
	// them in either order; this one never leaves a pass without a Lease).
	n.ctrl.NodeLeaseEvent(election.Event{Kind: election.Elected, Term: 2})
	n.ctrl.NodeLeaseEvent(election.Event{Kind: election.Renewed, Term: 2, At: time.Now()})
	n.ctrl.NodeLeaseEvent(election.Event{Kind: election.Lost, Term: 1})
	deadline := time.Now().Add(15 * time.Second)
	for transitions() <= before {
		if !bound(n, "203.0.113.1") {
			t.Fatal("address dropped while its claim was being rewritten")
		}
		if time.Now().After(deadline) {
			t.Fatal("claim not rewritten in the new term")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !bound(n, "203.0.113.1") {
		t.Error("address not bound after the rewrite")
	}
}

// TestSharedAddressOneClaim: two Services that share an address (same
// key, different ports) get it both, and it is claimed and bound once —
// the sharers are announced from one node by construction.
func TestSharedAddressOneClaim(t *testing.T) {
	c := fake.NewClientset()
	nodes := []*node{startNode(t, c, "n1", false), startNode(t, c, "n2", false)}
	shared := func(port int32) svcOpt {
		return func(s *corev1.Service) {
			s.Annotations = map[string]string{ipam.AnnotationLoadBalancerIPs: "203.0.113.9", ipam.AnnotationAllowSharedIP: "team"}
			s.Spec.Ports = []corev1.ServicePort{{Protocol: corev1.ProtocolTCP, Port: port}}
		}
	}
	for name, port := range map[string]int32{"http": 80, "https": 443} {
		if _, err := c.CoreV1().Services("default").Create(context.Background(), lbService(name, shared(port)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "both statuses and one binder", func() bool {
		holders := 0
		for _, n := range nodes {
			if bound(n, "203.0.113.9") {
				holders++
			}
		}
		return slices.Equal(ingressOf(t, c, "http"), []string{"203.0.113.9"}) &&
			slices.Equal(ingressOf(t, c, "https"), []string{"203.0.113.9"}) && holders == 1
	})
	// A third Service on the same address and a clashing port is refused.
	if _, err := c.CoreV1().Services("default").Create(context.Background(), lbService("clash", shared(80)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a Warning for the port clash", func() bool {
		evs, _ := c.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
		for _, e := range evs.Items {
			if e.InvolvedObject.Name == "clash" && e.Reason == ReasonAllocationFailed {
				return true
			}
		}
		return false
	})
	if got := ingressOf(t, c, "clash"); len(got) != 0 {
		t.Errorf("clash got %v", got)
	}
}
