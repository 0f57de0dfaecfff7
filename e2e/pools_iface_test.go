package e2e

import (
	"fmt"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/e2e/lab"
)

// ifacePool is the pool of the interface scenarios: its addresses are
// bound on lab.SecondInterface, the lab's second segment.
const ifacePool = "storage"

// linksDownBound bounds how long a node takes to publish a change of its
// pool interfaces on its node Lease: a link event, then one Lease write
// (or the next renewal, one retry period later).
const linksDownBound = 10 * time.Second

// startIfaceLab starts a services lab with pool objects and the second
// segment on the nodes link2 names (nil: every node), and creates the
// pools lab4 and lab6 (eth0) and ifacePool (lab.SecondPool4 and
// lab.SecondPool6 on lab.SecondInterface). It skips the test while the
// daemon refuses a pool's interface.
func startIfaceLab(t *testing.T, link2 []int) *lab.Lab {
	t.Helper()
	if !lab.DaemonHasFlag(t, "--services-pool-objects") {
		t.Skip("vipkeeper run has no --services-pool-objects")
	}
	l := lab.Start(t, lab.Options{Services: true, NoControlPlaneVIP: true, PoolObjects: true, SecondLink: true, SecondLinkNodes: link2, Audit: true})
	for _, p := range []lab.Pool{
		{Name: "lab4", Addresses: []string{lab.ServicePool4.String()}},
		{Name: "lab6", Addresses: []string{lab.ServicePool6.String()}},
		{Name: ifacePool, Addresses: []string{lab.SecondPool4.String(), lab.SecondPool6.String()},
			Extra: map[string]any{"interface": lab.SecondInterface}},
	} {
		if err := l.CreatePool(p); err != nil {
			t.Fatal(err)
		}
	}
	var st lab.PoolStatus
	var err error
	if !lab.WaitFor(serviceUp, func() bool {
		st, err = l.GetPoolStatus(ifacePool)
		return err == nil && st.Valid != ""
	}) {
		t.Fatalf("pool %s: no Valid condition after %v: %+v (%v)", ifacePool, serviceUp, st, err)
	}
	if st.Valid == "False" && st.Reason == "PlacementNotSupported" {
		t.Skip("daemon does not support interface per pool yet")
	}
	if st.Valid != "True" {
		t.Fatalf("pool %s: %+v; want Valid True", ifacePool, st)
	}
	waitPool(t, l, "lab4", "True", serviceUp)
	return l
}

// storageAddrs creates a dual-stack Service of ifacePool and returns its
// two addresses, each checked to be in its pool.
func storageAddrs(t *testing.T, l *lab.Lab, name string) []netip.Addr {
	t.Helper()
	l.CreateService(lab.ServiceSpec{Name: name, DualStack: true, Pool: ifacePool})
	var got []netip.Addr
	if !lab.WaitFor(serviceUp, func() bool {
		svc, err := l.GetService("", name)
		got = nil
		if err == nil {
			got = lab.IngressAddrs(svc)
		}
		return len(got) == 2
	}) {
		t.Fatalf("Service %s: ingress %v after %v; want two addresses", name, got, serviceUp)
	}
	if !lab.SecondPool4.Contains(got[0]) || !lab.SecondPool6.Contains(got[1]) {
		t.Fatalf("Service %s: ingress %v; want one of %s and one of %s", name, got, lab.SecondPool4, lab.SecondPool6)
	}
	return got
}

// checkIfaces fails t unless each of addrs is bound on exactly one node,
// on the interface iface[addr] and no other, and returns the placements.
func checkIfaces(t *testing.T, l *lab.Lab, addrs []netip.Addr, iface map[netip.Addr]string) map[netip.Addr]lab.Placement {
	t.Helper()
	placed, err := l.PlacementsOf(addrs)
	if err != nil {
		t.Fatal(err)
	}
	out := map[netip.Addr]lab.Placement{}
	for _, a := range addrs {
		ps := placed[a]
		if len(ps) != 1 || ps[0].Iface != iface[a] || !ps[0].Up {
			t.Errorf("%s bound on %v; want on %s (up) of one node", a, ps, iface[a])
			continue
		}
		out[a] = ps[0]
	}
	return out
}

// TestServicesPoolInterface: a pool with spec.interface binds its
// addresses on that interface of the announcing node (lab.SecondInterface,
// a segment of its own), never on eth0, and the client there reaches them;
// when that interface goes down on the announcer, its addresses of that
// pool move to another node's interface (never on two at once) while its
// eth0 addresses stay, it keeps its node Lease, and the Lease names the
// interface in vipkeeper.io/links-down until it comes back up.
func TestServicesPoolInterface(t *testing.T) {
	l := startIfaceLab(t, nil)
	store := storageAddrs(t, l, "store")
	iface := map[netip.Addr]string{store[0]: lab.SecondInterface, store[1]: lab.SecondInterface}
	owners := waitBoundOnce(t, l, store, serviceUp)
	checkIfaces(t, l, store, iface)
	victim := owners[store[0]]
	vi := l.NodeIndex(victim)

	// lab4 Services until one of their addresses is on the victim (the
	// owner is a hash of address and node: a third of them, on average).
	var web []netip.Addr
	onVictim := 0
	for k := 0; k < 9 && onVictim == 0 || k < 3; k++ {
		name := fmt.Sprintf("web-%d", k)
		l.CreateService(lab.ServiceSpec{Name: name, Pool: "lab4"})
		a := checkIngress(t, l.WaitIngress("", name, serviceUp), netip.Addr{})
		web = append(web, a)
		iface[a] = "eth0"
		if waitBoundOnce(t, l, []netip.Addr{a}, serviceUp)[a] == victim {
			onVictim++
		}
	}
	all := append(slices.Clone(store), web...)
	before := waitBoundOnce(t, l, all, serviceUp)
	checkIfaces(t, l, all, iface)
	t.Logf("bound: %v; %d of %d lab4 addresses on %s", before, onVictim, len(web), victim)
	if onVictim == 0 {
		t.Logf("no lab4 address landed on %s: that eth0 addresses stay on it is not shown", victim)
	}
	for _, a := range store {
		if who := l.WaitServedOnLink2(a, 10*time.Second); who != before[a] {
			t.Errorf("second client: %s served by %q; bound on %s", a, who, before[a])
		}
	}
	if down, _, err := l.LinksDown(victim); err != nil || down != "" {
		t.Errorf("node Lease of %s: %s = %q (%v) with every link up; want empty", victim, lab.AnnotationLinksDown, down, err)
	}
	pids := l.PIDs()
	checkQuietAPI(t, l, ifaceQuiet)
	faultAPI := scrapeAPI(t, l)

	// eth1 down on the announcer of store[0].
	probes := map[netip.Addr]func() (string, time.Duration, error){}
	fault := time.Now()
	for _, a := range store {
		if before[a] == victim {
			probes[a] = servedAway(l, a, victim, fault, crashBound+10*time.Second)
		}
	}
	linksDown := watchLinksDown(l, victim, lab.SecondInterface, fault, linksDownBound)
	l.Link2Down(vi)
	tr := traceIface(t, l, all, before, iface, victim, "", true, fault, crashBound+10*time.Second)
	took := tr.movedSummary()
	t.Logf("%s down on %s: moved %s; %d samples", lab.SecondInterface, victim, took, tr.samples)
	tr.check(t, all, before, iface, victim, crashBound)
	after := waitBoundOnce(t, l, all, serviceUp)
	checkServedAway(t, probes, after, crashBound)
	d := waitLinksDown(t, victim, linksDown)
	t.Logf("%s's node Lease names %s down %d ms after the fault, and %s still holds it", victim, lab.SecondInterface, d.Milliseconds(), victim)
	moved := 0
	for _, a := range store {
		if after[a] != before[a] {
			moved++
		}
	}
	t.Logf("the requests from the fault until every address was placed again (%d moved): %s", moved, apiDelta(faultAPI, scrapeAPI(t, l)))

	// Back up: the annotation clears; the addresses stay where they are
	// or come back, each on one node's eth1.
	upAt := time.Now()
	linksUp := watchLinksDown(l, victim, "", upAt, linksDownBound)
	l.Link2Up(vi)
	d = waitLinksDown(t, victim, linksUp)
	t.Logf("%s back up on %s: annotation cleared %d ms after", lab.SecondInterface, victim, d.Milliseconds())
	final := waitBoundOnce(t, l, all, serviceUp)
	checkIfaces(t, l, all, iface)
	for _, a := range web {
		if final[a] != before[a] {
			t.Errorf("lab4 address %s on %s at the end; want still on %s", a, final[a], before[a])
		}
	}
	for _, a := range store {
		t.Logf("%s: on %s, after the fault on %s, at the end on %s", a, before[a], after[a], final[a])
		if who := l.WaitServedOnLink2(a, 10*time.Second); who != final[a] {
			t.Errorf("second client: %s served by %q; bound on %s", a, who, final[a])
		}
	}
	for i, pid := range pids {
		if l.NodePID(i) != pid || !l.NodeAlive(i) {
			t.Errorf("daemon of %s: pid %d before, now %d alive=%v; want the same daemon", l.NodeName(i), pid, l.NodePID(i), l.NodeAlive(i))
		}
	}
	checkNotForbidden(t, l)
}

// TestServicesPoolInterfaceMissing: a node without the pool's interface
// never announces the pool's addresses, not even when it is the only
// other node left, and its node Lease names the interface in
// vipkeeper.io/links-down. n3 has no eth1; the announcer is SIGKILLed
// (and unplugged from the second segment, so its stale addresses serve
// nothing), and its addresses move to the remaining node with eth1.
func TestServicesPoolInterfaceMissing(t *testing.T) {
	l := startIfaceLab(t, []int{0, 1})
	never := l.NodeName(2)
	store := storageAddrs(t, l, "store")
	iface := map[netip.Addr]string{store[0]: lab.SecondInterface, store[1]: lab.SecondInterface}
	before := waitBoundOnce(t, l, store, serviceUp)
	checkIfaces(t, l, store, iface)
	for _, a := range store {
		if before[a] == never {
			t.Errorf("%s bound on %s, which has no %s", a, never, lab.SecondInterface)
		}
		if who := l.WaitServedOnLink2(a, 10*time.Second); who != before[a] {
			t.Errorf("second client: %s served by %q; bound on %s", a, who, before[a])
		}
	}
	waitLinksDown(t, never, watchLinksDown(l, never, lab.SecondInterface, time.Now(), linksDownBound))
	t.Logf("bound: %v; %s's node Lease names %s down", before, never, lab.SecondInterface)
	for i := range 2 {
		if down, _, err := l.LinksDown(l.NodeName(i)); err != nil || down != "" {
			t.Errorf("node Lease of %s: %s = %q (%v); want empty", l.NodeName(i), lab.AnnotationLinksDown, down, err)
		}
	}

	victim := before[store[0]]
	vi := l.NodeIndex(victim)
	if victim == never {
		t.Fatalf("%s announces %s without %s", never, store[0], lab.SecondInterface)
	}
	survivor := l.NodeName(1 - vi)
	probes := map[netip.Addr]func() (string, time.Duration, error){}
	fault := time.Now()
	for _, a := range store {
		if before[a] == victim {
			probes[a] = servedAway(l, a, victim, fault, crashBound+10*time.Second)
		}
	}
	l.KillNode(vi, syscall.SIGKILL)
	l.WaitNodeExit(vi, 5*time.Second)
	l.Link2Down(vi)
	tr := traceIface(t, l, store, before, iface, victim, never, false, fault, crashBound+10*time.Second)
	took := tr.movedSummary()
	t.Logf("%s killed: moved %s; %d samples", victim, took, tr.samples)
	tr.check(t, store, before, iface, victim, crashBound+2*time.Second) // +2 s: the kill and unplugging come first
	checkServedAway(t, probes, map[netip.Addr]string{store[0]: survivor, store[1]: survivor}, crashBound+2*time.Second)
	for _, a := range store {
		if who := l.WaitServedOnLink2(a, 10*time.Second); who != survivor {
			t.Errorf("second client: %s served by %q; want %s", a, who, survivor)
		}
	}
	watchIfaceSettled(t, l, store, survivor, settle)
	checkNotForbidden(t, l)
}

// watchIfaceSettled samples for d that every one of addrs is on node's
// lab.SecondInterface (up) and nowhere else that is up.
func watchIfaceSettled(t *testing.T, l *lab.Lab, addrs []netip.Addr, node string, d time.Duration) {
	t.Helper()
	bad := 0
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(ownerSampleEvery) {
		placed, err := l.PlacementsOf(addrs)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range addrs {
			var up []lab.Placement
			for _, p := range placed[a] {
				if p.Up {
					up = append(up, p)
				}
			}
			if want := (lab.Placement{Node: node, Iface: lab.SecondInterface, Up: true}); len(up) != 1 || up[0] != want {
				if bad++; bad <= 5 {
					t.Errorf("%s on %v; want only on %s", a, up, want)
				}
			}
		}
	}
}
