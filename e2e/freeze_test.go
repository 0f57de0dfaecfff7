package e2e

import (
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/e2e/lab"
)

// The freeze scenario of issue 13: a daemon that runs no code cannot take
// its VIP away, so the kernel must.

func TestFreeze(t *testing.T) { scenarioFreeze(t, &measurement{Scenario: "freeze"}) }

// frozenFor is how long the leader's daemon is frozen: three lease
// durations, so that another node has long taken over when it resumes.
const frozenFor = 3 * leaseDuration

// freeze: SIGSTOP the leader's daemon for longer than the lease duration,
// then SIGCONT → its kernel drops the VIP by the holder's deadline, another
// node serves, no sample with two owners; after SIGCONT the old daemon
// steps down and keeps running as a follower.
func scenarioFreeze(t *testing.T, m *measurement) {
	r := startRun(t, m, lab.Options{}, 0)
	checkLifetimes(t, r.l, r.leader)
	r.mark()
	r.l.FreezeNode(r.leader)
	next := r.waitServedByOther(frozenFor)
	if d := time.Duration(r.m.TakeoverMS * float64(time.Millisecond)); d > crashBound {
		t.Errorf("freeze: another node served after %v; want ≤ %v (lease duration + 3s)", d.Round(time.Millisecond), crashBound)
	}
	time.Sleep(time.Until(r.fault.Add(frozenFor)))
	r.l.ThawNode(r.leader)
	thawed := r.rec.Mark("thaw")
	t.Logf("continued %s after %v", r.leaderName(), thawed.Sub(r.fault).Round(time.Millisecond))
	// Time for the old daemon to notice its deadline passed and for
	// anything wrong (taking the VIP back, a second owner) to show.
	time.Sleep(leaseDuration + settle)
	s := r.rec.Between(r.fault, time.Now())
	r.m.window(s)
	checkRecovered(t, s, r.l.NodeName(next))
	owner := checkSingleOwner(t, r.l, r.vip, 5*time.Second)
	checkLeaseHolder(t, r.l, owner)
	if owner == r.leaderName() {
		t.Errorf("the frozen daemon %s holds the VIP again after it continued", owner)
	}
	if lines := r.l.GrepLog(r.leader, 5, "stepped down"); len(lines) == 0 {
		t.Errorf("%s's daemon did not log a step-down after it continued", r.leaderName())
	} else {
		t.Logf("%s after it continued: %v", r.leaderName(), lines)
	}
	r.finish() // every daemon alive with its PID: the frozen one too
}

// checkLifetimes asserts that node i's VIPs carry a finite valid lifetime
// that tracks the holder's deadline (`ip -d addr`): at most lease duration
// − safety margin − the kernel's lateness (5s − 0.5s − 1.5s in the lab),
// at least 1s, and refreshed by the renewals (still there a lease
// duration later).
func checkLifetimes(t *testing.T, l *lab.Lab, i int) {
	t.Helper()
	const most = 3 // ⌊5s − 0.5s − 1.5s⌋
	for round := range 2 {
		if round > 0 {
			time.Sleep(leaseDuration)
		}
		for _, vip := range l.VIPs() {
			lft, ok := l.ValidLifetime(i, vip)
			switch {
			case !ok:
				t.Errorf("%s does not hold %s", l.NodeName(i), vip)
			case lft < 1 || lft > most:
				t.Errorf("%s on %s: valid_lft %d; want 1..%d (forever is %d)", vip, l.NodeName(i), lft, most, uint32(0xffffffff))
			default:
				t.Logf("%s on %s: valid_lft %ds", vip, l.NodeName(i), lft)
			}
		}
	}
}
