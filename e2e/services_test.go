package e2e

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/vipkeeper/vipkeeper/e2e/lab"
)

// The LoadBalancer Services suite (docs/services.md): each test starts a
// fresh lab of three nodes in services mode (--services, the pools
// lab.DefaultServicePools, no control-plane VIP) with the 5s/3s/1s lease
// timings, creates Services and, since the lab runs no
// kube-controller-manager, their EndpointSlices itself.

const (
	// serviceUp bounds the first ingress of a Service created right after
	// the lab starts: the daemons sync their informers, take their node
	// Leases and the allocator claim, then write a status, a claim and
	// bind — a few requests each. Generous, so that running out means the
	// daemon is wrong.
	serviceUp = 30 * time.Second
	// unbindBound is "within a few seconds" for an address whose Service
	// is deleted or whose endpoints move: one claim write and one unbind,
	// driven by watch events.
	unbindBound = 5 * time.Second
	// ownerSampleEvery is how often the suite reads who holds the
	// addresses (one netlink dump per node).
	ownerSampleEvery = 25 * time.Millisecond
	// otherClass is a loadBalancerClass that is not ours.
	otherClass = "example.com/other-lb"
)

// startServicesLab starts a three-node lab in services mode without a
// control-plane VIP.
func startServicesLab(t *testing.T) *lab.Lab {
	t.Helper()
	if !lab.DaemonHasFlag(t, "--services") {
		t.Skip("vipkeeper run has no --services yet: `vipkeeper run --help` does not list it")
	}
	return lab.Start(t, lab.Options{Services: true, NoControlPlaneVIP: true})
}

// TestServicesAllocate: a requested address, an automatic one, a Service of
// another class (left alone) and a request outside every pool (a Warning
// Event, no status); each address bound on exactly one node and served;
// deleting a Service unbinds its address everywhere and drops its claim;
// SIGTERM to a holder hands its address over within a few seconds.
func TestServicesAllocate(t *testing.T) {
	l := startServicesLab(t)
	requested := netip.MustParseAddr("192.0.2.140")
	outside := netip.MustParseAddr("203.0.113.7") // documentation, but in no pool
	l.CreateService(lab.ServiceSpec{Name: "requested", Requested: []netip.Addr{requested}})
	l.CreateService(lab.ServiceSpec{Name: "auto"})
	l.CreateService(lab.ServiceSpec{Name: "other", Class: otherClass})
	l.CreateService(lab.ServiceSpec{Name: "outside", Requested: []netip.Addr{outside}})
	l.CreateService(lab.ServiceSpec{Name: "dual", DualStack: true})
	created := time.Now()

	reqAddr := checkIngress(t, l.WaitIngress("", "requested", serviceUp), requested)
	// The allocator hands out the lowest free address of the first pool
	// that fits (docs/services.md, Allocation); .128 is the network address.
	autoAddr := checkIngress(t, l.WaitIngress("", "auto", serviceUp), netip.MustParseAddr("192.0.2.129"))
	t.Logf("ingress after %v: requested %s, auto %s", time.Since(created).Round(time.Millisecond), reqAddr, autoAddr)

	// Dual stack: one address of each family, both from the pools.
	dual := lab.IngressAddrs(l.WaitIngress("", "dual", serviceUp))
	if len(dual) != 2 || !dual[0].Is4() || !dual[1].Is6() || !lab.ServicePool4.Contains(dual[0]) || !lab.ServicePool6.Contains(dual[1]) {
		t.Fatalf("dual-stack Service: ingress %v; want an IPv4 address of %s, then an IPv6 one of %s", dual, lab.ServicePool4, lab.ServicePool6)
	}

	addrs := append([]netip.Addr{reqAddr, autoAddr}, dual...)
	owners := waitBoundOnce(t, l, addrs, serviceUp)
	for _, a := range addrs {
		if who := l.WaitServed(a, 10*time.Second); who != owners[a] {
			t.Errorf("%s is bound on %s but the client is served by %s", a, owners[a], who)
		}
		t.Logf("%s: bound on %s and served by it", a, owners[a])
	}

	ev := waitEvent(t, l, "outside", lab.ReasonAllocationFailed, 15*time.Second)
	if ev.Type != corev1.EventTypeWarning {
		t.Errorf("the AllocationFailed Event is of type %s; want Warning", ev.Type)
	}
	t.Logf("outside: %s %s from %s: %s", ev.Type, ev.Reason, ev.Source.Component, ev.Message)
	if !strings.Contains(ev.Message, outside.String()) {
		t.Errorf("the AllocationFailed message does not name %s: %q", outside, ev.Message)
	}

	// Another class: the daemons must not touch it. By now they have
	// handled the three Services created with it; give them a moment more.
	time.Sleep(settle)
	for _, name := range []string{"outside", "other"} {
		svc, err := l.GetService("", name)
		if err != nil {
			t.Fatal(err)
		}
		if st := svc.Status.LoadBalancer; len(st.Ingress) != 0 {
			t.Errorf("Service %s has a status %+v; want none", name, st)
		}
	}
	if evs, err := l.ServiceEvents("", "other"); err != nil {
		t.Fatal(err)
	} else if len(evs) != 0 {
		t.Errorf("Service other (class %s) got %d Events; want none from vipkeeper: first %s %s: %s",
			otherClass, len(evs), evs[0].Type, evs[0].Reason, evs[0].Message)
	}

	nodes, err := l.Leases(lab.RoleNode)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("node Leases: %v", nodes)
	for i := range l.Nodes() {
		if _, ok := nodes[lab.NodeLeasePrefix+l.NodeName(i)]; !ok {
			t.Errorf("no node Lease %s%s (label %s=%s); have %v", lab.NodeLeasePrefix, l.NodeName(i), lab.RoleLabel, lab.RoleNode, nodes)
		}
	}

	// Delete auto: its address goes everywhere, and so does its claim.
	claims, err := l.Leases(lab.RoleClaim)
	if err != nil {
		t.Fatal(err)
	}
	claim := lab.ClaimLeaseName(autoAddr)
	if holder, ok := claims[claim]; !ok || holder != owners[autoAddr] {
		t.Errorf("claim Lease %s: present %v, holder %q; want held by %s (claims: %v)", claim, ok, holder, owners[autoAddr], claims)
	}
	l.DeleteService("", "auto")
	deleted := time.Now()
	var held map[netip.Addr][]string
	if !lab.WaitFor(unbindBound, func() bool {
		held, err = l.HoldersOfAll(addrs)
		return err == nil && len(held[autoAddr]) == 0
	}) {
		t.Errorf("%s still bound on %v (%v) %v after its Service was deleted; want unbound everywhere within %v",
			autoAddr, held[autoAddr], err, time.Since(deleted).Round(time.Millisecond), unbindBound)
	} else {
		t.Logf("%s unbound everywhere %v after the delete", autoAddr, time.Since(deleted).Round(time.Millisecond))
	}
	if !lab.WaitFor(unbindBound, func() bool {
		claims, err = l.Leases(lab.RoleClaim)
		_, ok := claims[claim]
		return err == nil && !ok
	}) {
		t.Errorf("claim Lease %s still there %v after the delete (%v); claims %v", claim, time.Since(deleted).Round(time.Millisecond), err, claims)
	}
	// The other address is not disturbed.
	if o := waitBoundOnce(t, l, []netip.Addr{reqAddr}, time.Second); o[reqAddr] != owners[reqAddr] {
		t.Errorf("%s moved from %s to %s when another Service was deleted", reqAddr, owners[reqAddr], o[reqAddr])
	}
	checkNotForbidden(t, l)

	// Graceful: SIGTERM the holder of the requested address. It exits 0,
	// having unbound and released its node Lease, and a peer that sees
	// the release takes the address at once: no lease expiry to wait for.
	holder := l.NodeIndex(owners[reqAddr])
	stopped := time.Now()
	killGracefully(t, l, holder)
	tr := traceHolders(t, l, reqAddr, crashBound, func(h []string) bool { return len(h) == 1 && h[0] != owners[reqAddr] })
	t.Logf("after SIGTERM of %s: %s", owners[reqAddr], tr)
	if !tr.reached {
		t.Errorf("%s not bound on another node within %v of SIGTERM to %s; holders %v", reqAddr, crashBound, owners[reqAddr], tr.last)
	} else if d := tr.at.Sub(stopped); d > unbindBound {
		t.Errorf("%s bound on %v %v after SIGTERM to its holder; want ≤ %v (the node Lease is released, not left to expire)",
			reqAddr, tr.last, d.Round(time.Millisecond), unbindBound)
	}
	if tr.maxHolders > 1 {
		t.Errorf("%d samples with %s on two nodes after the SIGTERM; want none", tr.overlaps, reqAddr)
	}
}

// TestServicesLocal: an externalTrafficPolicy: Local Service is bound only
// where a ready endpoint runs; it follows the endpoint from n2 to n3 with
// never two holders; with no ready endpoint it is bound nowhere and keeps
// its status.
func TestServicesLocal(t *testing.T) {
	l := startServicesLab(t)
	n1, n2, n3 := l.NodeName(0), l.NodeName(1), l.NodeName(2)
	// n1's endpoint is not ready: it must not count.
	l.SetEndpoints("", "local", lab.Endpoint{Node: n1}, lab.Endpoint{Node: n2, Ready: true})
	l.CreateService(lab.ServiceSpec{Name: "local", Local: true})
	addr := checkIngress(t, l.WaitIngress("", "local", serviceUp), netip.Addr{})
	if o := waitBoundOnce(t, l, []netip.Addr{addr}, serviceUp); o[addr] != n2 {
		t.Fatalf("%s (eTP Local, ready endpoint on %s only) is bound on %s", addr, n2, o[addr])
	}
	if who := l.WaitServed(addr, 10*time.Second); who != n2 {
		t.Errorf("%s served by %s; want %s", addr, who, n2)
	}

	// Move the endpoint to n3.
	l.SetEndpoints("", "local", lab.Endpoint{Node: n2}, lab.Endpoint{Node: n3, Ready: true})
	moved := time.Now()
	tr := traceHolders(t, l, addr, unbindBound, func(h []string) bool { return slices.Equal(h, []string{n3}) })
	t.Logf("endpoint moved %s → %s: %s", n2, n3, tr)
	if !tr.reached {
		t.Errorf("%s not bound on %s alone within %v of the endpoint move; last holders %v", addr, n3, unbindBound, tr.last)
	}
	if tr.maxHolders > 1 {
		t.Errorf("%d samples with %s on two nodes or more (at most %d); want none", tr.overlaps, addr, tr.maxHolders)
	}
	if tr.reached {
		if who := l.WaitServed(addr, 5*time.Second); who != n3 {
			t.Errorf("%s served by %s after the move; want %s", addr, who, n3)
		}
	}
	t.Logf("moved in %v", tr.at.Sub(moved).Round(time.Millisecond))

	// No ready endpoint at all: bound nowhere, status kept.
	l.SetEndpoints("", "local", lab.Endpoint{Node: n3})
	tr = traceHolders(t, l, addr, unbindBound, func(h []string) bool { return len(h) == 0 })
	t.Logf("no ready endpoint: %s", tr)
	if !tr.reached {
		t.Errorf("%s still bound on %v %v after its last endpoint turned unready; want nowhere", addr, tr.last, unbindBound)
	}
	time.Sleep(settle)
	if svc, err := l.GetService("", "local"); err != nil {
		t.Fatal(err)
	} else if got := lab.IngressAddrs(svc); !slices.Equal(got, []netip.Addr{addr}) {
		t.Errorf("with no ready endpoint the status lists %v; want %s kept (the address stays allocated)", got, addr)
	}
	if h, err := l.HoldersOfAll([]netip.Addr{addr}); err != nil || len(h[addr]) != 0 {
		t.Errorf("%s bound on %v (%v) %v after its endpoints went; want nowhere", addr, h[addr], err, settle)
	}
	checkNotForbidden(t, l)
}

// TestServicesCrash: 30 Services (15 IPv4, 15 IPv6) served; the node
// holding the most addresses is SIGKILLed and unplugged; every address it
// held is bound again on a survivor within lease duration + 3 s, no address
// is ever on two live nodes, and the survivors' own addresses stay put.
func TestServicesCrash(t *testing.T) {
	const perFamily = 15
	l := startServicesLab(t)
	var names []string
	for k := range perFamily {
		for _, f := range []struct {
			name string
			v6   bool
		}{{"v4", false}, {"v6", true}} {
			name := fmt.Sprintf("crash-%s-%d", f.name, k)
			l.CreateService(lab.ServiceSpec{Name: name, IPv6: f.v6})
			names = append(names, name)
		}
	}
	var addrs []netip.Addr
	for _, name := range names {
		svc := l.WaitIngress("", name, serviceUp)
		addrs = append(addrs, checkIngress(t, svc, netip.Addr{}))
	}
	before := waitBoundOnce(t, l, addrs, serviceUp)
	for _, a := range addrs {
		if who := l.WaitServed(a, 10*time.Second); who != before[a] {
			t.Errorf("%s bound on %s but served by %s", a, before[a], who)
		}
	}
	perNode := map[string][]netip.Addr{}
	for _, a := range addrs {
		perNode[before[a]] = append(perNode[before[a]], a)
	}
	victim := slices.MaxFunc(slices.Sorted(maps.Keys(perNode)), func(a, b string) int { return len(perNode[a]) - len(perNode[b]) })
	vi := l.NodeIndex(victim)
	t.Logf("%d addresses served; per node %v; killing %s (%d addresses)", len(addrs), counts(perNode), victim, len(perNode[victim]))

	pids := l.PIDs()
	fault := time.Now()
	l.KillNode(vi, syscall.SIGKILL)
	l.WaitNodeExit(vi, 5*time.Second)
	l.LinkDown(vi)
	tr := traceCrash(t, l, addrs, before, victim, fault, crashBound+10*time.Second, ownerSampleEvery)
	t.Logf("recovery of %s's %d addresses after SIGKILL: %s", victim, len(perNode[victim]), tr.summary())
	tr.check(t, crashBound)
	for _, a := range perNode[victim] {
		if now, ok := tr.now[a]; ok {
			if who := l.WaitServed(a, 5*time.Second); who != now {
				t.Errorf("%s bound on %s after the crash but served by %s", a, now, who)
			}
		}
	}
	for i, pid := range pids {
		if i != vi && (l.NodePID(i) != pid || !l.NodeAlive(i)) {
			t.Errorf("daemon of %s: pid %d before the crash, now %d alive=%v; want the same daemon", l.NodeName(i), pid, l.NodePID(i), l.NodeAlive(i))
		}
	}
	checkNotForbidden(t, l)
}

// checkIngress checks a Service's status: one ingress entry, ipMode VIP,
// the address want unless want is the zero Addr. It returns the address.
func checkIngress(t *testing.T, svc *corev1.Service, want netip.Addr) netip.Addr {
	t.Helper()
	in := svc.Status.LoadBalancer.Ingress
	got := lab.IngressAddrs(svc)
	if len(in) != 1 || len(got) != 1 {
		t.Fatalf("Service %s: status.loadBalancer.ingress %+v; want one entry with an ip", svc.Name, in)
	}
	if in[0].IPMode == nil || *in[0].IPMode != corev1.LoadBalancerIPModeVIP {
		t.Errorf("Service %s: ingress %s has ipMode %v; want VIP", svc.Name, in[0].IP, in[0].IPMode)
	}
	if want.IsValid() && got[0] != want {
		t.Errorf("Service %s: ingress %s; want %s", svc.Name, got[0], want)
	}
	if !want.IsValid() && !lab.ServicePool4.Contains(got[0]) && !lab.ServicePool6.Contains(got[0]) {
		t.Errorf("Service %s: ingress %s is in neither pool (%s, %s)", svc.Name, got[0], lab.ServicePool4, lab.ServicePool6)
	}
	return got[0]
}

// waitBoundOnce waits until each of addrs is held by exactly one node (on
// any interface) and returns who holds each. A sample showing an address on
// two nodes fails the test at once: that must never happen.
func waitBoundOnce(t *testing.T, l *lab.Lab, addrs []netip.Addr, timeout time.Duration) map[netip.Addr]string {
	t.Helper()
	var held map[netip.Addr][]string
	var err error
	ok := lab.WaitFor(timeout, func() bool {
		held, err = l.HoldersOfAll(addrs)
		if err != nil {
			return false
		}
		done := true
		for _, a := range addrs {
			if len(held[a]) > 1 {
				t.Fatalf("%s is bound on %v at once", a, held[a])
			}
			done = done && len(held[a]) == 1
		}
		return done
	})
	if !ok {
		var missing []string
		for _, a := range addrs {
			if len(held[a]) != 1 {
				missing = append(missing, fmt.Sprintf("%s on %v", a, held[a]))
			}
		}
		t.Fatalf("after %v not every address is bound on exactly one node (%v): %s", timeout, err, strings.Join(missing, ", "))
	}
	out := make(map[netip.Addr]string, len(addrs))
	for _, a := range addrs {
		out[a] = held[a][0]
	}
	return out
}

// holderTrace is what traceHolders saw of one address.
type holderTrace struct {
	reached    bool
	at         time.Time // the first sample that satisfied done
	samples    int
	overlaps   int // samples with ≥ 2 holders
	maxHolders int
	unheld     time.Duration // time between samples with no holder
	last       []string
	began      time.Time
}

func (h holderTrace) String() string {
	took := "never"
	if h.reached {
		took = h.at.Sub(h.began).Round(time.Millisecond).String()
	}
	return fmt.Sprintf("reached after %s; %d samples, %d with ≥ 2 holders (max %d), unheld ~%v, last %v",
		took, h.samples, h.overlaps, h.maxHolders, h.unheld.Round(time.Millisecond), h.last)
}

// traceHolders samples addr's holders (any interface) every
// ownerSampleEvery until done holds, then for settle more, or until
// timeout; it never fails the test itself.
func traceHolders(t *testing.T, l *lab.Lab, addr netip.Addr, timeout time.Duration, done func([]string) bool) holderTrace {
	t.Helper()
	tr := holderTrace{began: time.Now()}
	prev := tr.began
	for deadline := tr.began.Add(timeout); ; time.Sleep(ownerSampleEvery) {
		now := time.Now()
		if now.After(deadline) || tr.reached && now.Sub(tr.at) > settle {
			return tr
		}
		held, err := l.HoldersOfAll([]netip.Addr{addr})
		if err != nil {
			t.Fatalf("holders of %s: %v", addr, err)
		}
		h := held[addr]
		tr.samples++
		tr.last = h
		tr.maxHolders = max(tr.maxHolders, len(h))
		if len(h) > 1 {
			tr.overlaps++
		}
		if len(h) == 0 {
			tr.unheld += now.Sub(prev)
		}
		prev = now
		if !tr.reached && done(h) {
			tr.reached, tr.at = true, now
		}
	}
}

// crashTrace is what traceCrash saw after a node crashed.
type crashTrace struct {
	victim    string
	expected  []netip.Addr                 // the victim's addresses
	recovered map[netip.Addr]time.Duration // fault → first sample on one live survivor
	now       map[netip.Addr]string        // the last sample's owner of each address held by one node
	samples   int
	errors    int      // samples that could not be read (retried)
	overlaps  []string // "addr on [a b] at +1.234s", the first few
	nOverlap  int
	moved     []string // survivors' addresses that changed owner, the first few
	nMoved    int
}

// traceCrash samples who owns addrs (on interfaces that are up: the victim
// unplugged holds nothing that serves) every every from fault until every
// address the victim held before is owned by one survivor, then settle
// more, or until timeout.
func traceCrash(t *testing.T, l *lab.Lab, addrs []netip.Addr, before map[netip.Addr]string, victim string, fault time.Time, timeout, every time.Duration) *crashTrace {
	t.Helper()
	tr := &crashTrace{victim: victim, recovered: map[netip.Addr]time.Duration{}}
	for _, a := range addrs {
		if before[a] == victim {
			tr.expected = append(tr.expected, a)
		}
	}
	movedSeen := map[netip.Addr]bool{}
	var allAt time.Time
	for deadline := fault.Add(timeout); ; time.Sleep(every) {
		now := time.Now()
		if now.After(deadline) || !allAt.IsZero() && now.Sub(allAt) > settle {
			return tr
		}
		owners, err := l.OwnersOfAll(addrs)
		if err != nil {
			if tr.errors++; tr.errors > 10 {
				t.Fatalf("owners: %v", err)
			}
			continue
		}
		tr.sample(owners, before, now.Sub(fault), movedSeen)
		if allAt.IsZero() && len(tr.recovered) == len(tr.expected) {
			allAt = now
		}
	}
}

// sample folds one owner sample, taken at since after the fault, into tr.
func (tr *crashTrace) sample(owners map[netip.Addr][]string, before map[netip.Addr]string, since time.Duration, movedSeen map[netip.Addr]bool) {
	const keep = 10 // examples kept of each kind of violation
	tr.samples++
	tr.now = map[netip.Addr]string{}
	for a, was := range before {
		o := owners[a]
		if len(o) == 1 {
			tr.now[a] = o[0]
		}
		if len(o) > 1 {
			if tr.nOverlap++; len(tr.overlaps) < keep {
				tr.overlaps = append(tr.overlaps, fmt.Sprintf("%s on %v at +%.3fs", a, o, since.Seconds()))
			}
		}
		if was == tr.victim {
			if _, done := tr.recovered[a]; !done && len(o) == 1 && o[0] != tr.victim {
				tr.recovered[a] = since
			}
		} else if len(o) != 1 || o[0] != was {
			if !movedSeen[a] {
				movedSeen[a] = true
				if tr.nMoved++; len(tr.moved) < keep {
					tr.moved = append(tr.moved, fmt.Sprintf("%s: %s → %v at +%.3fs", a, was, o, since.Seconds()))
				}
			}
		}
	}
}

// durations are the recovery times, sorted.
func (tr *crashTrace) durations() []time.Duration {
	return slices.Sorted(maps.Values(tr.recovered))
}

func (tr *crashTrace) summary() string {
	d := tr.durations()
	if len(d) == 0 {
		return fmt.Sprintf("none of %d recovered; %d samples", len(tr.expected), tr.samples)
	}
	return fmt.Sprintf("%d/%d recovered, first %v, median %v, max %v; %d samples; %d with an address on two live nodes; %d survivor addresses moved",
		len(d), len(tr.expected), d[0].Round(time.Millisecond), medianDuration(d).Round(time.Millisecond),
		d[len(d)-1].Round(time.Millisecond), tr.samples, tr.nOverlap, tr.nMoved)
}

// check asserts what a crash must show: every address back within bound,
// never two live owners, the survivors' addresses unmoved (ownership is
// sticky: a move resets connections).
func (tr *crashTrace) check(t *testing.T, bound time.Duration) {
	t.Helper()
	var late, lost []string
	for _, a := range tr.expected {
		d, ok := tr.recovered[a]
		switch {
		case !ok:
			lost = append(lost, a.String())
		case d > bound:
			late = append(late, fmt.Sprintf("%s after %v", a, d.Round(time.Millisecond)))
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d of %s's addresses never came back on a survivor: %s", len(lost), tr.victim, strings.Join(lost, ", "))
	}
	if len(late) > 0 {
		t.Errorf("%d addresses came back later than %v: %s", len(late), bound, strings.Join(late, ", "))
	}
	if tr.nOverlap > 0 {
		t.Errorf("%d (address, sample) pairs with an address on two live nodes; want none: %s", tr.nOverlap, strings.Join(tr.overlaps, "; "))
	}
	if tr.nMoved > 0 {
		t.Errorf("%d addresses of the survivors changed owner or went unbound; want none (sticky): %s", tr.nMoved, strings.Join(tr.moved, "; "))
	}
}

func medianDuration(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(d))
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

func counts(perNode map[string][]netip.Addr) map[string]int {
	out := map[string]int{}
	for n, a := range perNode {
		out[n] = len(a)
	}
	return out
}

// waitEvent waits for an Event with reason about the Service name (in
// lab.ServiceNamespace) and returns it.
func waitEvent(t *testing.T, l *lab.Lab, name, reason string, timeout time.Duration) corev1.Event {
	t.Helper()
	var found corev1.Event
	var seen []string
	var err error
	if !lab.WaitFor(timeout, func() bool {
		var evs []corev1.Event
		evs, err = l.ServiceEvents("", name)
		seen = seen[:0]
		for _, e := range evs {
			seen = append(seen, e.Type+" "+e.Reason)
			if e.Reason == reason {
				found = e
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no %s Event on Service %s within %v (%v); Events: %v", reason, name, timeout, err, seen)
	}
	return found
}

// checkNotForbidden fails t if a daemon was refused a request: the lab
// grants exactly the documented RBAC, so a refusal means the documented
// RBAC does not suffice.
func checkNotForbidden(t *testing.T, l *lab.Lab) {
	t.Helper()
	for i := range l.Nodes() {
		if lines := l.GrepLog(i, 5, "forbidden"); len(lines) > 0 {
			t.Errorf("vipkeeper on %s was refused requests with the documented RBAC:\n%s", l.NodeName(i), strings.Join(lines, "\n"))
		}
	}
}

// TestServicesAPIOutage stops the API server for 20 s, then cuts one node
// alone from it for 20 s. With --api-outage hold (the default) no Service
// address may drop or move while nobody can write (the whole outage), and
// an address may be on two nodes at no sample. When one node alone is cut
// off, its addresses move to the others (they can still write) and it
// yields each on the new owner's probe. Afterwards every address is on
// exactly one node again, with no daemon restarted.
func TestServicesAPIOutage(t *testing.T) {
	const n = 12
	l := startServicesLab(t)
	var addrs []netip.Addr
	for k := range n {
		name := fmt.Sprintf("outage-%d", k)
		l.CreateService(lab.ServiceSpec{Name: name, IPv6: k%2 == 1})
		addrs = append(addrs, checkIngress(t, l.WaitIngress("", name, serviceUp), netip.Addr{}))
	}
	before := waitBoundOnce(t, l, addrs, serviceUp)
	pids := l.PIDs()

	// 1. The whole API server away: nothing may change.
	l.StopAPIServer()
	watchUnchanged(t, l, addrs, before, 20*time.Second)
	l.StartAPIServer()
	watchUnchanged(t, l, addrs, before, 15*time.Second) // the renewals resume; still nothing moves
	t.Logf("API server stopped 20 s and back: all %d addresses stayed on their nodes", n)

	// 2. One node cut off alone: the others take its addresses over.
	perNode := map[string][]netip.Addr{}
	for _, a := range addrs {
		perNode[before[a]] = append(perNode[before[a]], a)
	}
	victim := slices.MaxFunc(slices.Sorted(maps.Keys(perNode)), func(a, b string) int { return len(perNode[a]) - len(perNode[b]) })
	vi := l.NodeIndex(victim)
	fault := time.Now()
	l.CutAPI(vi)
	tr := traceCrash(t, l, addrs, before, victim, fault, crashBound+10*time.Second, ownerSampleEvery)
	t.Logf("%s cut from the API server: its %d addresses moved: %s", victim, len(perNode[victim]), tr.summary())
	tr.check(t, crashBound)
	l.HealAPI(vi)
	after := waitBoundOnce(t, l, addrs, serviceUp)
	watchUnchanged(t, l, addrs, after, 10*time.Second)
	for i, pid := range pids {
		if l.NodePID(i) != pid || !l.NodeAlive(i) {
			t.Errorf("daemon of %s: pid %d before, now %d alive=%v; want the same daemon", l.NodeName(i), pid, l.NodePID(i), l.NodeAlive(i))
		}
	}
}

// watchUnchanged samples the holders of addrs for d and fails on any
// sample in which an address is not on exactly the node want names.
func watchUnchanged(t *testing.T, l *lab.Lab, addrs []netip.Addr, want map[netip.Addr]string, d time.Duration) {
	t.Helper()
	bad := 0
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(ownerSampleEvery) {
		held, err := l.HoldersOfAll(addrs)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if len(held[a]) != 1 || held[a][0] != want[a] {
				if bad++; bad <= 5 {
					t.Errorf("%s held by %v; want only %s", a, held[a], want[a])
				}
			}
		}
	}
	if bad > 5 {
		t.Errorf("… %d such samples in all", bad)
	}
}
