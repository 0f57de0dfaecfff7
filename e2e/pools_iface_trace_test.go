package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/e2e/lab"
)

// Instruments of the pool-interface scenarios (pools_iface_test.go): where
// addresses are bound and on which interface, who serves the second
// segment's client, and what a node publishes on its node Lease.

// watchLinksDown polls node's node Lease every 20 ms, in the background,
// until it carries want in lab.AnnotationLinksDown ("" for absent or
// empty) or timeout passes. The function it returns waits for that and
// returns how long after since it was read, and the Lease's holder then.
func watchLinksDown(l *lab.Lab, node, want string, since time.Time, timeout time.Duration) func() (time.Duration, string, error) {
	type result struct {
		at     time.Duration
		holder string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		var down, holder string
		var err error
		for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if down, holder, err = l.LinksDown(node); err == nil && down == want {
				done <- result{time.Since(since), holder, nil}
				return
			}
		}
		done <- result{err: fmt.Errorf("node Lease of %s: %s = %q after %v (%v); want %q", node, lab.AnnotationLinksDown, down, timeout, err, want)}
	}()
	return func() (time.Duration, string, error) {
		r := <-done
		return r.at, r.holder, r.err
	}
}

// waitLinksDown waits for watchLinksDown, fails t if it ran out or node
// no longer holds its node Lease, and returns how long after since the
// annotation was read.
func waitLinksDown(t *testing.T, node string, watch func() (time.Duration, string, error)) time.Duration {
	t.Helper()
	d, holder, err := watch()
	if err != nil {
		t.Fatal(err)
	}
	if holder != node {
		t.Errorf("node Lease of %s held by %q; want %s", node, holder, node)
	}
	return d
}

// ifaceTrace is what traceIface saw: addresses that must move, moving off
// a victim, and the others staying put.
type ifaceTrace struct {
	moved    map[netip.Addr]time.Duration // fault → first sample on one other node
	samples  int
	nOverlap int
	overlaps []string // examples: an address on two interfaces at once
	nStray   int
	strays   []string // examples: on a wrong interface, or on the node never
	nStayed  int
	stayed   []string // examples: an address that had to stay and did not
	last     map[netip.Addr][]lab.Placement
}

// traceIface samples where addrs are bound every ownerSampleEvery from
// fault until each address before puts on victim and move says must move
// is on one other node, then settle more, or until timeout. Placements on
// a down interface count (a live daemon must unbind from a
// link it leaves; a crashed one cannot) only if anyState. Every address must be on
// iface[addr] only, and never on node never; the addresses that do not
// move must stay on their node.
func traceIface(t *testing.T, l *lab.Lab, addrs []netip.Addr, before map[netip.Addr]string, iface map[netip.Addr]string,
	victim, never string, anyState bool, fault time.Time, timeout time.Duration) *ifaceTrace {
	t.Helper()
	const keep = 5 // examples kept of each kind
	tr := &ifaceTrace{moved: map[netip.Addr]time.Duration{}}
	expect := 0
	for _, a := range addrs {
		if before[a] == victim && iface[a] == lab.SecondInterface {
			expect++
		}
	}
	var allAt time.Time
	for deadline := fault.Add(timeout); ; time.Sleep(ownerSampleEvery) {
		now := time.Now()
		if now.After(deadline) || !allAt.IsZero() && now.Sub(allAt) > settle {
			return tr
		}
		placed, err := l.PlacementsOf(addrs)
		if err != nil {
			t.Fatalf("placements: %v", err)
		}
		since := now.Sub(fault)
		tr.samples++
		tr.last = placed
		for _, a := range addrs {
			var ps []lab.Placement
			for _, p := range placed[a] {
				if anyState || p.Up {
					ps = append(ps, p)
				}
			}
			if len(ps) > 1 {
				if tr.nOverlap++; len(tr.overlaps) < keep {
					tr.overlaps = append(tr.overlaps, fmt.Sprintf("%s on %v at +%.3fs", a, ps, since.Seconds()))
				}
			}
			for _, p := range ps {
				if p.Iface != iface[a] || p.Node == never {
					if tr.nStray++; len(tr.strays) < keep {
						tr.strays = append(tr.strays, fmt.Sprintf("%s on %s at +%.3fs", a, p, since.Seconds()))
					}
				}
			}
			mustMove := before[a] == victim && iface[a] == lab.SecondInterface
			switch {
			case mustMove:
				if _, done := tr.moved[a]; !done && len(ps) == 1 && ps[0].Node != victim {
					tr.moved[a] = since
				}
			case len(ps) != 1 || ps[0].Node != before[a]:
				if tr.nStayed++; len(tr.stayed) < keep {
					tr.stayed = append(tr.stayed, fmt.Sprintf("%s: %s → %v at +%.3fs", a, before[a], ps, since.Seconds()))
				}
			}
		}
		if allAt.IsZero() && len(tr.moved) == expect {
			allAt = now
		}
	}
}

// movedSummary is "addr N ms" of every address that moved, in address order.
func (tr *ifaceTrace) movedSummary() string {
	var out []string
	for _, a := range slices.SortedFunc(maps.Keys(tr.moved), netip.Addr.Compare) {
		out = append(out, fmt.Sprintf("%s %d ms", a, tr.moved[a].Milliseconds()))
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// check fails t on what traceIface must never see, and unless every
// address that had to move did within bound.
func (tr *ifaceTrace) check(t *testing.T, addrs []netip.Addr, before map[netip.Addr]string, iface map[netip.Addr]string, victim string, bound time.Duration) {
	t.Helper()
	for _, a := range addrs {
		if before[a] != victim || iface[a] != lab.SecondInterface {
			continue
		}
		if d, ok := tr.moved[a]; !ok || d > bound {
			t.Errorf("%s: moved %v after %v; want it off %s within %v (last %v)", a, ok, d.Round(time.Millisecond), victim, bound, tr.last[a])
		}
	}
	if tr.nOverlap > 0 {
		t.Errorf("%d samples with an address on two interfaces; want none: %s", tr.nOverlap, strings.Join(tr.overlaps, "; "))
	}
	if tr.nStray > 0 {
		t.Errorf("%d samples with an address on a wrong interface or node: %s", tr.nStray, strings.Join(tr.strays, "; "))
	}
	if tr.nStayed > 0 {
		t.Errorf("%d samples with an address that had to stay elsewhere: %s", tr.nStayed, strings.Join(tr.stayed, "; "))
	}
}

// servedAway probes addr from the second client every 20 ms, in the
// background, until a node other than from answers or timeout passes.
// The function it returns waits for that and returns who answered and
// how long after since.
func servedAway(l *lab.Lab, addr netip.Addr, from string, since time.Time, timeout time.Duration) func() (string, time.Duration, error) {
	type result struct {
		who string
		at  time.Duration
		err error
	}
	done := make(chan result, 1)
	go func() {
		var who string
		var err error
		for deadline := since.Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			who, err = l.ServedOnLink2(addr, 200*time.Millisecond)
			if err == nil && who != from {
				done <- result{who, time.Since(since), nil}
				return
			}
		}
		done <- result{err: fmt.Errorf("still served by %q (%v) after %v", who, err, timeout)}
	}()
	return func() (string, time.Duration, error) {
		r := <-done
		return r.who, r.at, r.err
	}
}

// checkServedAway waits for each of probes (servedAway, by address) and
// fails t unless a node other than the victim, the one after names,
// answered within bound.
func checkServedAway(t *testing.T, probes map[netip.Addr]func() (string, time.Duration, error), after map[netip.Addr]string, bound time.Duration) {
	t.Helper()
	for _, a := range slices.SortedFunc(maps.Keys(probes), netip.Addr.Compare) {
		who, d, err := probes[a]()
		switch {
		case err != nil:
			t.Errorf("second client: %s: %v", a, err)
		case who != after[a] || d > bound:
			t.Errorf("second client: %s served by %s %d ms after the fault; want by %s within %v", a, who, d.Milliseconds(), after[a], bound)
		default:
			// Its neighbour cache outlives the test: only an
			// announcement on the second segment moved it.
			t.Logf("second client served %s by %s %d ms after the fault", a, who, d.Milliseconds())
		}
	}
}

// ifaceQuiet is the window over which the pools' steady-state API cost is
// measured: ten node-Lease renewals per node at the lab's retry period.
const ifaceQuiet = 10 * time.Second

// checkQuietAPI measures the daemons' API requests over a window with
// nothing changing, with pool objects, Nodes and an interface per pool
// watched, and holds each node to the services budget (scaleAPITarget).
func checkQuietAPI(t *testing.T, l *lab.Lab, window time.Duration) {
	t.Helper()
	// The allocator writes a pool's usage at most every 10 s after the
	// Services changed it: let that settle first.
	time.Sleep(11 * time.Second)
	before := scrapeAPI(t, l)
	time.Sleep(window) // quiet: the test makes no request
	load := scrapeAPI(t, l).Since(before)
	t.Logf("API requests over %v with nothing changing, pools watched: %s", load.Window.Round(time.Millisecond), load)
	if len(load.ByNode) == 0 {
		t.Errorf("the audit log counted no request of the daemons in %v", load.Window)
	}
	for node, rate := range load.ByNode {
		if rate > scaleAPITarget {
			t.Errorf("%s made %.2f API requests/s with nothing changing; target ≤ %.1f per node", node, rate, scaleAPITarget)
		}
	}
}

// scrapeAPI scrapes the API server's counters and the audit log.
func scrapeAPI(t *testing.T, l *lab.Lab) lab.APICounts {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := l.APIRequests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
