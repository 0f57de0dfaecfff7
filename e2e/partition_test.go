package e2e

import (
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/e2e/lab"
)

// The peer-partition scenario of issue 13: riding through an outage needs
// a witness.

func TestPeerPartition(t *testing.T) {
	scenarioPeerPartition(t, &measurement{Scenario: "peer-partition"})
}

// partitionFor is how long the holder stays cut off: six lease durations,
// so that a holder riding on unwitnessed would show as a second owner for
// most of it.
const partitionFor = 30 * time.Second

// peer-partition: the switch drops every frame between the holder's port
// and every other port but the client's, for 30 s: the holder loses the
// API server and its peers at once, and the client still reaches it. The
// peers take the Lease after a lease duration and bind; the holder,
// hearing no peer's beacon, must be gone by its own deadline instead of
// riding on (--api-outage hold is the lab's default). 0 samples with two
// owners, no daemon restarted; once healed, the old holder follows and is
// still a candidate.
func scenarioPeerPartition(t *testing.T, m *measurement) {
	if !lab.DaemonHasFlag(t, "--witness") {
		t.Skip("vipkeeper run has no --witness: `vipkeeper run --help` does not list it")
	}
	r := startRun(t, m, lab.Options{}, 0)
	r.mark()
	r.l.IsolatePort(r.leader)
	next := r.waitServedByOther(partitionFor)
	if d := time.Duration(r.m.TakeoverMS * float64(time.Millisecond)); d > crashBound {
		t.Errorf("peer-partition: another node served after %v; want ≤ %v (lease duration + 3s)", d.Round(time.Millisecond), crashBound)
	}
	if lines := r.l.GrepLog(r.leader, 5, "stepped down"); len(lines) == 0 {
		t.Errorf("%s, cut off from its peers, did not step down by its deadline", r.leaderName())
	} else {
		r.m.note(t, "%s cut off: %v", r.leaderName(), lines)
	}
	time.Sleep(time.Until(r.fault.Add(partitionFor)))
	during := r.rec.Between(r.fault, time.Now())
	r.m.note(t, "during the partition (%v): %s", partitionFor, during)
	r.l.HealPort()
	healed := r.rec.Mark("heal")
	t.Logf("healed %s's port after %v", r.leaderName(), healed.Sub(r.fault).Round(time.Millisecond))
	owner := r.settleAfter(t, next)
	if owner == r.leaderName() {
		r.m.note(t, "after the heal the old holder %s serves again", owner)
	}
	r.finish(r.proveCandidate(r.leader)...)
}
