package services

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/vipkeeper/vipkeeper/pkg/election"
)

// TestEveryOrder runs one controller (n1) over two Services whose claims
// name it, delivers a set of events in every order, and after each event
// — and again once every deadline has passed — checks what the rules
// promise whatever the order:
//
//   - every set handed to the binder holds only addresses whose claim in
//     the API names n1 at that moment;
//   - nothing is bound whose claim names another node, nor while n1 is
//     unhealthy;
//   - no claim comes to name n1 while the API server is away (no takes);
//   - a wire claim on A, while A is bound, is answered by keeping A if n1
//     is fresh and wrote A's claim in this term, and by unbinding it
//     otherwise;
//   - a node that leads, renewed, is healthy and reaches the API binds
//     every address whose claim names it;
//   - once the deadline of the one renewal has passed: nothing is bound if
//     the API server is up (any ride ended a renew deadline after it came
//     back), nor without hold, nor while unhealthy.
//
// The events: E1, E2 and L1 are the node Lease's Elected and Lost of a
// term, R a renewal sent now; H- and H+ the node's health; A- and A+ the
// API server's reachability; W another host claiming A on the wire; M
// n2 taking A's claim in the API. Lease duration 5 s, safety margin
// 0.5 s, renew deadline 3 s. Virtual time stands still while the events
// are delivered, 1 s after Start.
func TestEveryOrder(t *testing.T) {
	sets := []struct {
		name    string
		release bool     // --api-outage release
		peer    bool     // n2 holds a fresh node Lease
		preload []string // delivered before Start, so the first pass sees them
		events  []string
	}{
		{name: "node Lease and health", events: []string{"E1", "R", "L1", "H-", "H+"}},
		{name: "terms through an outage", peer: true, preload: []string{"E1", "R"}, events: []string{"A-", "E2", "L1", "W", "A+"}},
		{name: "claims and the wire", peer: true, preload: []string{"E1", "R"}, events: []string{"M", "W", "H-", "H+", "A-"}},
		{name: "an outage without hold", release: true, peer: true, preload: []string{"E1", "R"}, events: []string{"A-", "L1", "M", "W", "A+"}},
	}
	for _, set := range sets {
		t.Run(set.name, func(t *testing.T) {
			for _, order := range permutations(set.events) {
				synctest.Test(t, func(t *testing.T) {
					h := startOrder(t, set.release, set.peer, set.preload)
					m := newOrderModel(set.preload)
					for i, ev := range order {
						h.step(m, ev, fmt.Sprintf("%s after %s", set.name, strings.Join(order[:i+1], ",")))
					}
					// Every deadline passes: the one renewal's (4.5 s), a
					// ride's end after the API came back (3 s), a peer's
					// expiry (5 s).
					time.Sleep(10 * time.Second)
					synctest.Wait()
					h.checkLater(fmt.Sprintf("%s after %s, later", set.name, strings.Join(order, ",")), m, set.release)
					h.stop()
				})
			}
		})
	}
}

// orderModel is what the events so far say, by the rules.
type orderModel struct {
	ended, won             map[uint64]bool
	healthy, apiUp, renewd bool
	// written: n1 has been fresh with the API server up since its term
	// began and it last turned healthy, so it has written its claims in
	// this term.
	written bool
}

func newOrderModel(preload []string) *orderModel {
	m := &orderModel{ended: map[uint64]bool{}, won: map[uint64]bool{}, healthy: true, apiUp: true}
	for _, ev := range preload {
		m.apply(ev)
	}
	return m
}

func (m *orderModel) apply(ev string) {
	switch ev {
	case "E1", "E2", "L1":
		term := uint64(ev[1] - '0')
		// Terms run one after another: an event of a term ends every
		// earlier one; an Elected counts only if its term has not ended.
		for t := uint64(1); t < term; t++ {
			m.ended[t] = true
		}
		if ev[0] == 'L' {
			m.ended[term] = true
		} else if !m.ended[term] && !m.won[term] {
			m.won[term] = true
			m.written = false // a new term: every claim is written again
		}
	case "R":
		m.renewd = true
	case "H-", "H+":
		m.healthy = ev == "H+"
		if !m.healthy {
			// Unbinds and releases everything; its claims are written
			// again before anything is bound.
			m.written = false
		}
	case "A-", "A+":
		m.apiUp = ev == "A+"
	}
	if m.fresh() && m.apiUp {
		// Writes its claims in this term; one that yielded to a wire
		// claim is bound again (TestYieldedAddressBoundAgain).
		m.written = true
	}
}

// fresh: n1 holds by its Lease (virtual time stands still, so the one
// renewal has not expired).
func (m *orderModel) fresh() bool { return m.leading() && m.renewd && m.healthy }

func (m *orderModel) leading() bool {
	for t := range m.won {
		if !m.ended[t] {
			return true
		}
	}
	return false
}

// orderHarness runs one controller inside a synctest bubble.
type orderHarness struct {
	t      *testing.T
	client *fake.Clientset
	ctrl   *Controller
	binder *fakeBinder
	cancel context.CancelFunc
	done   chan error
}

func startOrder(t *testing.T, release, peer bool, preload []string) *orderHarness {
	objs := []runtime.Object{
		lbService("a", withStatus(addrA)), lbService("b", withStatus(addrB)),
		claimLease(addrA, "n1", ""), claimLease(addrB, "n1", ""),
	}
	if peer {
		objs = append(objs, nodeLeaseOf("n2", "n2", "1"))
	}
	h := &orderHarness{t: t, client: newClient(objs...), binder: &fakeBinder{}, done: make(chan error, 1)}
	h.binder.check = func(addrs []netip.Addr) {
		holders := h.holders()
		for _, a := range addrs {
			if holders[a.String()] != "n1" {
				t.Errorf("binder given %v while the claim of %s names %q", addrs, a, holders[a.String()])
			}
		}
	}
	c, err := New(Config{
		Node: "n1", Namespace: ns, Pools: testPools,
		LeaseDuration: 5 * time.Second, SafetyMargin: 500 * time.Millisecond, RenewDeadline: 3 * time.Second, RetryPeriod: time.Second,
		Hold: !release, Healthy: true,
	}, Deps{Client: h.client, Informers: h.client, Binder: h.binder, NodeLease: &stubLease{}}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	c.transform = func(o any) (any, error) { // the fake hands one object to every watcher
		if obj, ok := o.(runtime.Object); ok {
			o = obj.DeepCopyObject()
		}
		return trim(o)
	}
	h.ctrl = c
	for _, ev := range preload {
		h.deliver(ev) // queued in the Inbox: the loop takes them before its first pass
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- c.Start(ctx) }()
	// Start waits for the informers' first lists, polling every 100 ms.
	time.Sleep(time.Second)
	synctest.Wait()
	return h
}

func (h *orderHarness) deliver(ev string) {
	switch ev {
	case "E1", "E2", "L1":
		kind := election.Elected
		if ev[0] == 'L' {
			kind = election.Lost
		}
		h.ctrl.NodeLeaseEvent(election.Event{Kind: kind, Term: uint64(ev[1] - '0')})
	case "R":
		h.ctrl.NodeLeaseEvent(election.Event{Kind: election.Renewed, At: time.Now()})
	case "H-", "H+":
		h.ctrl.Health(ev == "H+")
	case "A-", "A+":
		h.ctrl.APIReachable(ev == "A+")
	case "W":
		h.ctrl.Claimed(netip.MustParseAddr(addrA))
	case "M": // another node takes A's claim
		leases := h.client.CoordinationV1().Leases(ns)
		l, err := leases.Get(context.Background(), ClaimLeaseName(addrA), metav1.GetOptions{})
		if err != nil {
			h.t.Fatal(err)
		}
		l.Spec.HolderIdentity = ptr.To("n2")
		if _, err := leases.Update(context.Background(), l, metav1.UpdateOptions{}); err != nil {
			h.t.Fatal(err)
		}
	default:
		h.t.Fatalf("unknown event %q", ev)
	}
}

// step delivers ev, waits until the bubble is idle and checks the
// invariants.
func (h *orderHarness) step(m *orderModel, ev, what string) {
	t := h.t
	t.Helper()
	before, wasUp := h.namingN1(), m.apiUp
	boundA, keep := h.binder.has(addrA), m.fresh() && m.written
	h.deliver(ev)
	m.apply(ev)
	synctest.Wait()
	if ev == "W" && boundA {
		switch nowA := h.binder.has(addrA); {
		case keep && !nowA:
			t.Errorf("%s: A unbound on a wire claim although n1 is fresh and wrote its claim in this term", what)
		case !keep && nowA:
			t.Errorf("%s: A kept against a wire claim although n1 holds it only by riding or an earlier term's claim", what)
		}
	}
	h.checkNow(what, m, before, wasUp)
}

// holders are the claims in the API, by key.
func (h *orderHarness) holders() map[string]string {
	list, err := h.client.CoordinationV1().Leases(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range list.Items {
		if key, ok := isClaim(&l); ok {
			out[key] = ptr.Deref(l.Spec.HolderIdentity, "")
		}
	}
	return out
}

// namingN1 are the keys whose claim names n1, sorted.
func (h *orderHarness) namingN1() []string {
	var out []string
	for k, holder := range h.holders() {
		if holder == "n1" {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func (h *orderHarness) bound() []string {
	var out []string
	for _, a := range h.binder.get() {
		out = append(out, a.String())
	}
	return out
}

// checkNow checks the invariants that hold after every event, with
// virtual time standing still. before is namingN1 before the event,
// wasUp whether the API server was up before it.
func (h *orderHarness) checkNow(what string, m *orderModel, before []string, wasUp bool) {
	t := h.t
	t.Helper()
	bound, holders, naming := h.bound(), h.holders(), h.namingN1()
	if !m.healthy && len(bound) > 0 {
		t.Errorf("%s: bound %v while unhealthy", what, bound)
	}
	for _, a := range bound {
		if holders[a] != "n1" {
			t.Errorf("%s: %s bound while its claim names %q", what, a, holders[a])
		}
	}
	if !wasUp && !m.apiUp {
		for _, k := range naming {
			if !slices.Contains(before, k) {
				t.Errorf("%s: the claim of %s was taken while the API server was away", what, k)
			}
		}
	}
	if m.leading() && m.renewd && m.healthy && m.apiUp {
		want := slices.DeleteFunc(naming, func(k string) bool { return k == AllocatorKey })
		got := bound
		if !slices.Equal(want, got) {
			t.Errorf("%s: bound %v, want every address whose claim names n1: %v", what, got, want)
		}
	}
}

// checkLater checks the invariants once every deadline has passed.
func (h *orderHarness) checkLater(what string, m *orderModel, release bool) {
	t := h.t
	t.Helper()
	bound := h.bound()
	switch {
	case len(bound) == 0:
	case !m.healthy:
		t.Errorf("%s: bound %v while unhealthy", what, bound)
	case m.apiUp:
		t.Errorf("%s: bound %v with the API server up and no renewal for 10 s", what, bound)
	case release:
		t.Errorf("%s: bound %v past the deadline without hold", what, bound)
	}
	holders := h.holders()
	for _, a := range bound {
		if holders[a] != "n1" {
			t.Errorf("%s: %s bound while its claim names %q", what, a, holders[a])
		}
	}
}

func (h *orderHarness) stop() {
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Errorf("Start: %v", err)
	}
}

// permutations are every order of evs.
func permutations(evs []string) [][]string {
	if len(evs) <= 1 {
		return [][]string{slices.Clone(evs)}
	}
	var out [][]string
	for i := range evs {
		rest := slices.Concat(evs[:i], evs[i+1:])
		for _, p := range permutations(rest) {
			out = append(out, append([]string{evs[i]}, p...))
		}
	}
	return out
}

// TestYieldedAddressBoundAgain: an address held provisionally (written in
// an earlier term, the API server away) yields to a claim on the wire;
// once the API server is back and n1 has written the claim again in its
// current term, nobody else holds it and n1 should bind it again — as
// the keeper keeps, and announces over, a claimant while it holds the
// address under its current term (tenure.KeepAgainst).
func TestYieldedAddressBoundAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startOrder(t, false, true, []string{"E1", "R"})
		m := newOrderModel([]string{"E1", "R"})
		for _, ev := range []string{"A-", "E2", "W", "A+"} {
			h.step(m, ev, "yield then rewrite after "+ev)
		}
		if holders := h.holders(); holders[addrA] != "n1" {
			t.Fatalf("claim of A names %q, want n1", holders[addrA])
		}
		if !h.binder.has(addrA) {
			t.Errorf("A unbound although n1 wrote its claim in its current term: bound %v", h.bound())
		}
		h.stop()
	})
}
