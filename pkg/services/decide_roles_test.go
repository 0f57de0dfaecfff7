package services

import (
	"testing"

	"github.com/vipkeeper/vipkeeper/pkg/services/owner"
)

// TestDecideOutage: no claim is written while the API server is away; a
// holder that was fresh when it went away rides through it (hold) until
// a renew deadline after it is back; without hold it is gone by its
// deadline.
func TestDecideOutage(t *testing.T) {
	// n1 holds A under its own write and B under a claim it never wrote.
	base := func(steps ...step) []step {
		return held(append([]step{wrote(0, addrA, 1, "2"), claimed(0, addrB, "n1", "3")}, steps...)...)
	}
	objs := []any{svcA, svcB}
	allGiven := []owner.Decision{handoff(AllocatorKey, ""), handoff(addrA, ""), handoff(addrB, "")}
	runDecide(t, []decideCase{{
		name:  "API down while fresh: binds kept, nothing written, no allocator",
		objs:  objs,
		steps: base(api(sec(1), false)),
		at:    sec(2),
		want:  planView{Bind: []string{addrA}, Claimed: 1, Addresses: 2, Next: sec(0.25)},
	}, {
		name:  "API down past the deadline (hold): riding, binds kept, nothing written",
		objs:  objs,
		steps: base(api(sec(1), false)),
		at:    sec(6),
		want:  planView{Bind: []string{addrA}, Claimed: 1, Addresses: 2, Next: sec(1)},
	}, {
		name:    "API down past the deadline (release): nothing bound, everything handed back",
		release: true,
		objs:    objs,
		steps:   base(api(sec(1), false)),
		at:      sec(6),
		want:    planView{Gives: allGiven, Addresses: 2, Next: sec(1)},
	}, {
		name:  "API back: riding until a renew deadline after it came back",
		objs:  objs,
		steps: base(api(sec(1), false), api(sec(10), true)),
		at:    sec(12),
		want:  planView{Bind: []string{addrA}, Claimed: 1, Addresses: 2, Next: sec(1)},
	}, {
		name:  "API back: the next pass is due when the ride ends",
		objs:  objs,
		steps: base(api(sec(1), false), api(sec(10), true)),
		at:    sec(12.5),
		want:  planView{Bind: []string{addrA}, Claimed: 1, Addresses: 2, Next: sec(0.5)},
	}, {
		name:  "API back: the ride ends a renew deadline after it came back",
		objs:  objs,
		steps: base(api(sec(1), false), api(sec(10), true)),
		at:    sec(13),
		want:  planView{Gives: allGiven, Addresses: 2, Next: sec(1)},
	}, {
		name:  "an outage that begins after the deadline is no ride",
		objs:  objs,
		steps: base(api(sec(5), false)),
		at:    sec(6),
		want:  planView{Gives: allGiven, Addresses: 2, Next: sec(1)},
	}, {
		name:  "an outage that begins while unhealthy is no ride",
		objs:  objs,
		steps: base(healthy(sec(1), false), api(sec(2), false), healthy(sec(3), true)),
		at:    sec(6),
		want:  planView{Gives: allGiven, Addresses: 2, Next: sec(1)},
	}, {
		name:  "renewed after the API came back: fresh again, the claim never written is written",
		objs:  objs,
		steps: base(api(sec(1), false), api(sec(10), true), renewed(sec(11))),
		at:    sec(12),
		want:  planView{Bind: []string{addrA}, Takes: []owner.Decision{take(addrB)}, Allocate: true, Claimed: 1, Addresses: 2, Next: sec(1)},
	}})
}

// TestDecideEligible: for externalTrafficPolicy Local only nodes with a
// ready endpoint may announce.
func TestDecideEligible(t *testing.T) {
	loc := lbService("loc", local(), withStatus(addrA))
	withPeer := func(steps ...step) []step { return held(append([]step{peer(0, "n2", "n2", "7")}, steps...)...) }
	runDecide(t, []decideCase{{
		name:  "endpoints only on a peer: left to it",
		objs:  []any{loc, endpointSlice("loc", "n2", true)},
		steps: withPeer(),
		at:    sec(1),
		want:  planView{Allocate: true, Addresses: 1, Next: sec(1)},
	}, {
		name:  "a ready endpoint here: taken",
		objs:  []any{loc, endpointSlice("loc", "n1", true)},
		steps: withPeer(),
		at:    sec(1),
		want:  planView{Takes: []owner.Decision{take(addrA)}, Allocate: true, Addresses: 1, Next: sec(1)},
	}, {
		name:  "an endpoint here that is not ready: not taken",
		objs:  []any{loc, endpointSlice("loc", "n1", false)},
		steps: withPeer(),
		at:    sec(1),
		want:  planView{Allocate: true, Addresses: 1, Next: sec(1)},
	}, {
		name:  "held here, endpoints moved to a peer: handed over, not bound",
		objs:  []any{loc, endpointSlice("loc", "n2", true)},
		steps: withPeer(wrote(0, addrA, 1, "2")),
		at:    sec(1),
		want:  planView{Gives: []owner.Decision{handoff(addrA, "n2")}, Allocate: true, Addresses: 1, Next: sec(1)},
	}, {
		name:  "held here, no ready endpoint anywhere: released",
		objs:  []any{loc},
		steps: withPeer(wrote(0, addrA, 1, "2")),
		at:    sec(1),
		want:  planView{Gives: []owner.Decision{handoff(addrA, "")}, Allocate: true, Addresses: 1, Next: sec(1)},
	}, {
		name:  "held here with a ready endpoint here: bound",
		objs:  []any{loc, endpointSlice("loc", "n1", true)},
		steps: withPeer(wrote(0, addrA, 1, "2")),
		at:    sec(1),
		want:  planView{Bind: []string{addrA}, Allocate: true, Claimed: 1, Addresses: 1, Next: sec(1)},
	}})
}

// TestDecideAllocator: the allocator role runs only on a fresh node, with
// the API server up, under its own claim written in this term.
func TestDecideAllocator(t *testing.T) {
	lead := []step{elected(0, 1), renewed(0)}
	runDecide(t, []decideCase{{
		name:  "our claim, written in this term: run",
		steps: held(),
		at:    sec(1),
		want:  planView{Allocate: true, Next: sec(1)},
	}, {
		name:  "no claim yet: created, not run",
		steps: lead,
		at:    sec(1),
		want:  planView{Takes: []owner.Decision{take(AllocatorKey)}, Next: sec(1)},
	}, {
		name:  "a claim naming us that we never wrote: written again, not run",
		steps: append(lead, claimed(0, AllocatorKey, "n1", "1")),
		at:    sec(1),
		want:  planView{Takes: []owner.Decision{take(AllocatorKey)}, Next: sec(1)},
	}, {
		name:  "written in an earlier term: written again, not run",
		steps: held(elected(sec(1), 2), renewed(sec(1))),
		at:    sec(2),
		want:  planView{Takes: []owner.Decision{take(AllocatorKey)}, Next: sec(1)},
	}, {
		name:  "held by a fresh peer: left to it",
		steps: append(lead, peer(0, "n2", "n2", "7"), claimed(0, AllocatorKey, "n2", "1")),
		at:    sec(1),
		want:  planView{Next: sec(1)},
	}, {
		name:  "API down: not run",
		steps: held(api(sec(1), false)),
		at:    sec(1),
		want:  planView{Next: sec(1)},
	}, {
		name:  "past the deadline: not run, released",
		steps: held(),
		at:    sec(5),
		want:  planView{Gives: []owner.Decision{handoff(AllocatorKey, "")}, Next: sec(1)},
	}, {
		name:  "draining: not run",
		steps: held(step{sec(1), drainEvent{}}),
		at:    sec(1),
		want:  planView{Next: sec(1)},
	}})
}

// TestDecideProbe: with a Prober and a ProbeWait, a new holder probes
// before it binds.
func TestDecideProbe(t *testing.T) {
	probedA := step{sec(1), probeDone{addrs: addrs(addrA)}}
	runDecide(t, []decideCase{{
		name:  "probed before it is bound",
		probe: true,
		objs:  []any{svcA},
		steps: held(wrote(0, addrA, 1, "2")),
		at:    sec(1),
		want:  planView{Probe: []string{addrA}, Allocate: true, Claimed: 1, Addresses: 1, Next: sec(1)},
	}, {
		name:  "bound after a probe nobody answered",
		probe: true,
		objs:  []any{svcA},
		steps: held(wrote(0, addrA, 1, "2"), probedA),
		at:    sec(1),
		want:  planView{Bind: []string{addrA}, Allocate: true, Claimed: 1, Addresses: 1, Next: sec(1)},
	}, {
		name:  "no Prober: bound without a probe",
		objs:  []any{svcA},
		steps: held(wrote(0, addrA, 1, "2")),
		at:    sec(1),
		want:  planView{Bind: []string{addrA}, Allocate: true, Claimed: 1, Addresses: 1, Next: sec(1)},
	}, {
		name:  "a probed address that is no longer ours forgets its probe",
		probe: true,
		objs:  []any{svcA},
		steps: held(wrote(0, addrA, 1, "2"), probedA, healthy(sec(1), false)),
		at:    sec(1),
		want: planView{Reset: []string{addrA}, Gives: []owner.Decision{handoff(AllocatorKey, ""), handoff(addrA, "")},
			Addresses: 1, Next: sec(1)},
	}})
}

// TestDecideNext: the next pass is due by the node's own deadline, a
// peer's expiry or the idle pass, whichever comes first.
func TestDecideNext(t *testing.T) {
	runDecide(t, []decideCase{{
		name:  "the idle pass",
		steps: held(),
		at:    sec(1),
		want:  planView{Allocate: true, Next: sec(1)},
	}, {
		name:  "the node's own deadline",
		steps: held(),
		at:    sec(4),
		want:  planView{Allocate: true, Next: sec(0.5)},
	}, {
		name:  "a peer's expiry",
		steps: held(peer(0, "n2", "n2", "7"), renewed(sec(3))),
		at:    sec(4.7),
		want:  planView{Allocate: true, Next: sec(0.3)},
	}, {
		name:  "never below a millisecond",
		steps: held(peer(0, "n2", "n2", "7"), renewed(sec(3))),
		at:    sec(4.9995),
		want:  planView{Allocate: true, Next: sec(0.001)},
	}, {
		name:  "a released peer sets no deadline",
		steps: held(peer(0, "n2", "", "7"), renewed(sec(3))),
		at:    sec(4.7),
		want:  planView{Allocate: true, Next: sec(0.55)},
	}})
}
