package services

import (
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/pkg/services/owner"
)

// heard is a peer heard on the link at t0+at (pkg/witness).
func heard(at time.Duration) step { return step{at: at, ev: witnessEvent(t0.Add(at))} }

// TestDecideWitness: with a witness window, a node rides past its node
// Lease's deadline only while a peer was heard within the window; cut off
// from its peers too, it hands back what it holds by its deadline.
func TestDecideWitness(t *testing.T) {
	base := func(steps ...step) []step {
		return held(append([]step{wrote(0, addrA, 1, "2"), claimed(0, addrB, "n1", "3")}, steps...)...)
	}
	objs := []any{svcA, svcB}
	allGiven := []owner.Decision{handoff(AllocatorKey, ""), handoff(addrA, ""), handoff(addrB, "")}
	runDecide(t, []decideCase{{
		name: "API down past the deadline, peers heard: riding, binds kept", witness: sec(1.5),
		objs:  objs,
		steps: base(api(sec(1), false), heard(sec(5)), heard(sec(5.8))),
		at:    sec(6),
		want:  planView{Bind: []string{addrA}, Claimed: 1, Addresses: 2, Next: sec(1)},
	}, {
		name: "the next pass is due when the evidence goes stale", witness: sec(1.5),
		objs:  objs,
		steps: base(api(sec(1), false), heard(sec(5))),
		at:    sec(6),
		want:  planView{Bind: []string{addrA}, Claimed: 1, Addresses: 2, Next: sec(0.5)},
	}, {
		name: "API down past the deadline, no peer heard since the cut: handed back", witness: sec(1.5),
		objs:  objs,
		steps: base(heard(sec(0.5)), api(sec(1), false)),
		at:    sec(6),
		want:  planView{Gives: allGiven, Addresses: 2, Next: sec(1)},
	}})
}
