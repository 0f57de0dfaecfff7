package services

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vipkeeper/vipkeeper/pkg/election"
	"github.com/vipkeeper/vipkeeper/pkg/services/ipam"
)

// These tests run controllers against client-go's fake clientset, which
// has informers but no compare-and-swap; the owner package's simulation
// and the lab cover the races. Each runs in a synctest bubble: time is
// virtual, and every check comes after a fixed step of it (settle), once
// every goroutine of the bubble is idle — so a check that something did
// not happen has given it every chance to. The simple clientset: the
// field-managing tracker of fake.NewClientset builds a REST mapper on
// every write, which costs more than the rest of a test that renews
// node Leases every 100 ms.

func TestSingleNodeLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newClient()
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
		settle(soon)

		if got := ingressOf(t, c, "auto"); !slices.Equal(got, []string{"203.0.113.1"}) {
			t.Errorf("auto: status %v, want [203.0.113.1]", got)
		}
		if got := ingressOf(t, c, "wants-7"); !slices.Equal(got, []string{"203.0.113.7"}) {
			t.Errorf("wants-7: status %v, want [203.0.113.7]", got)
		}
		if !bound(n, "203.0.113.1") || !bound(n, "203.0.113.7") {
			t.Errorf("bound %v, want 203.0.113.1 and 203.0.113.7", n.binder.get())
		}
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
		if !warned(c, "outside", ReasonAllocationFailed) {
			t.Error("no Warning for the unmet request of outside")
		}
		evs, _ := c.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
		for _, e := range evs.Items {
			if e.InvolvedObject.Name == "other" || e.InvolvedObject.Name == "no-class" {
				t.Errorf("event on a Service of another class: %s %s", e.Reason, e.Message)
			}
		}

		// Delete: unbound and the claim gone.
		if err := c.CoreV1().Services("default").Delete(ctx, "wants-7", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		settle(soon)
		if bound(n, "203.0.113.7") {
			t.Error("203.0.113.7 still bound after its Service was deleted")
		}
		if _, exists := claimHolder(c, "203.0.113.7"); exists {
			t.Error("claim of 203.0.113.7 still there after its Service was deleted")
		}
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
		settle(soon)
		if got := ingressOf(t, c, "auto"); len(got) != 0 {
			t.Errorf("auto: status %v after its type changed, want none", got)
		}
		if bound(n, "203.0.113.1") {
			t.Error("203.0.113.1 still bound after its Service's type changed")
		}

		// Shutdown: the node Lease is left to the fake (nothing to release).
		n.stop()
	})
}

func TestUnhealthyHandsOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newClient()
		n1 := startNode(t, c, "n1", true)
		n2 := startNode(t, c, "n2", true)
		if _, err := c.CoreV1().Services("default").Create(context.Background(), lbService("web", withClass(nil)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		settle(soon)
		var holder, other *node
		switch a, b := bound(n1, "203.0.113.1"), bound(n2, "203.0.113.1"); {
		case a && !b:
			holder, other = n1, n2
		case b && !a:
			holder, other = n2, n1
		default:
			t.Fatalf("web bound on n1 %v, on n2 %v; want exactly one", a, b)
		}
		holder.ctrl.Health(false)
		settle(expiry)
		if bound(holder, "203.0.113.1") || !bound(other, "203.0.113.1") {
			t.Errorf("web bound on the unhealthy node %v, on the other %v; want it moved", bound(holder, "203.0.113.1"), bound(other, "203.0.113.1"))
		}
		if h, _ := claimHolder(c, "203.0.113.1"); h != other.name {
			t.Errorf("claim names %q, want %s", h, other.name)
		}
		// Healthy again: the address stays where it is (sticky).
		holder.ctrl.Health(true)
		settle(expiry)
		if bound(holder, "203.0.113.1") {
			t.Error("address pulled back to the recovered node")
		}
		n1.stop()
		n2.stop()
	})
}

func TestNodeDeathMovesAddresses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newClient()
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
		settle(soon)
		m, ok := owners()
		if !ok {
			t.Fatalf("owners %v; want every address on exactly one node", m)
		}
		// Kill the node with the most addresses: no release, its Lease expires.
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
		victim.stop()
		settle(expiry)
		m, ok = owners()
		if !ok {
			t.Fatalf("owners %v; want the dead node's addresses on exactly one survivor each", m)
		}
		for a, o := range m {
			if o[0] == victim.name {
				t.Errorf("%s still on the dead node", a)
			}
		}
		for _, n := range nodes {
			n.stop()
		}
	})
}

func TestLocalFollowsEndpoints(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newClient()
		ctx := context.Background()
		nodes := map[string]*node{}
		for _, name := range []string{"n1", "n2", "n3"} {
			nodes[name] = startNode(t, c, name, false)
		}
		if _, err := c.CoreV1().Services("default").Create(ctx, lbService("loc", local()), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.DiscoveryV1().EndpointSlices("default").Create(ctx, endpointSlice("loc", "n2", true), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		only := func(want string) {
			t.Helper()
			settle(soon)
			for name, n := range nodes {
				if got := bound(n, "203.0.113.1"); got != (name == want) {
					t.Errorf("loc bound on %s: %v; want it only on %q", name, got, want)
				}
			}
		}
		only("n2")
		if _, err := c.DiscoveryV1().EndpointSlices("default").Update(ctx, endpointSlice("loc", "n3", true), metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		only("n3")
		if err := c.DiscoveryV1().EndpointSlices("default").Delete(ctx, "loc-x", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		only("")
		if got := ingressOf(t, c, "loc"); !slices.Equal(got, []string{"203.0.113.1"}) {
			t.Errorf("status %v: an address without endpoints stays allocated", got)
		}
		for _, n := range nodes {
			n.stop()
		}
	})
}

// TestNewTermKeepsOwnClaims: a node whose Lease lapsed without a release
// (an API outage) and is taken again in a new term keeps its addresses
// bound while it rewrites its claims — no drop after every outage.
func TestNewTermKeepsOwnClaims(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newClient()
		n := startNode(t, c, "n1", false)
		if _, err := c.CoreV1().Services("default").Create(context.Background(), lbService("web"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		settle(soon)
		if !bound(n, "203.0.113.1") {
			t.Fatal("web not bound")
		}
		transitions := func() int32 {
			l, err := c.CoordinationV1().Leases(ns).Get(context.Background(), ClaimLeaseName("203.0.113.1"), metav1.GetOptions{})
			if err != nil {
				return -1
			}
			return ptr.Deref(l.Spec.LeaseTransitions, 0)
		}
		before, calls := transitions(), len(n.binder.history())
		// The new term first, then the old term's end (client-go may deliver
		// them in either order; this one never leaves a pass without a Lease).
		n.ctrl.NodeLeaseEvent(election.Event{Kind: election.Elected, Term: 2})
		n.ctrl.NodeLeaseEvent(election.Event{Kind: election.Renewed, Term: 2, At: time.Now()})
		n.ctrl.NodeLeaseEvent(election.Event{Kind: election.Lost, Term: 1})
		settle(soon)
		for i, set := range n.binder.history()[calls:] {
			if !slices.Contains(set, netip.MustParseAddr("203.0.113.1")) {
				t.Errorf("binder call %d after the new term: %v; address dropped while its claim was being rewritten", i, set)
			}
		}
		if transitions() <= before {
			t.Error("claim not rewritten in the new term")
		}
		if !bound(n, "203.0.113.1") {
			t.Error("address not bound after the rewrite")
		}
		n.stop()
	})
}

// TestSharedAddressOneClaim: two Services that share an address (same
// key, different ports) get it both, and it is claimed and bound once —
// the sharers are announced from one node by construction.
func TestSharedAddressOneClaim(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newClient()
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
		settle(soon)
		for _, name := range []string{"http", "https"} {
			if got := ingressOf(t, c, name); !slices.Equal(got, []string{"203.0.113.9"}) {
				t.Errorf("%s: status %v, want [203.0.113.9]", name, got)
			}
		}
		holders := 0
		for _, n := range nodes {
			if bound(n, "203.0.113.9") {
				holders++
			}
		}
		if holders != 1 {
			t.Errorf("203.0.113.9 bound on %d nodes, want 1", holders)
		}
		// A third Service on the same address and a clashing port is refused.
		if _, err := c.CoreV1().Services("default").Create(context.Background(), lbService("clash", shared(80)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		settle(soon)
		if !warned(c, "clash", ReasonAllocationFailed) {
			t.Error("no Warning for the port clash")
		}
		if got := ingressOf(t, c, "clash"); len(got) != 0 {
			t.Errorf("clash got %v", got)
		}
		for _, n := range nodes {
			n.stop()
		}
	})
}
