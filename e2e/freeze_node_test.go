package e2e

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
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
	owner := r.settleAfter(t, next)
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

// TestServicesFreeze: 10 Services (5 IPv4, 5 IPv6) served; the daemon of
// the node holding the most addresses is frozen for three lease durations,
// then continued. Its kernel drops every Service VIP by the node Lease's
// deadline, so each comes back on a survivor within lease duration + 3 s
// with no address ever on two live nodes; after SIGCONT the old daemon
// takes none of them back and keeps running.
func TestServicesFreeze(t *testing.T) {
	const perFamily = 5
	l := startServicesLab(t)
	var addrs []netip.Addr
	for k := range perFamily {
		for _, v6 := range []bool{false, true} {
			name := fmt.Sprintf("freeze-%v-%d", v6, k)
			l.CreateService(lab.ServiceSpec{Name: name, IPv6: v6})
			addrs = append(addrs, checkIngress(t, l.WaitIngress("", name, serviceUp), netip.Addr{}))
		}
	}
	before := waitBoundOnce(t, l, addrs, serviceUp)
	perNode := map[string][]netip.Addr{}
	for _, a := range addrs {
		perNode[before[a]] = append(perNode[before[a]], a)
	}
	victim := slices.MaxFunc(slices.Sorted(maps.Keys(perNode)), func(a, b string) int { return len(perNode[a]) - len(perNode[b]) })
	vi := l.NodeIndex(victim)
	if lft, ok := l.ValidLifetime(vi, perNode[victim][0]); !ok || lft < 1 || lft > 3 {
		t.Errorf("%s on %s: valid_lft %d (held %v); want 1..3", perNode[victim][0], victim, lft, ok)
	}
	t.Logf("%d addresses served; per node %v; freezing %s (%d addresses)", len(addrs), counts(perNode), victim, len(perNode[victim]))

	pids := l.PIDs()
	fault := time.Now()
	l.FreezeNode(vi)
	tr := traceCrash(t, l, addrs, before, victim, fault, frozenFor, ownerSampleEvery)
	t.Logf("recovery of %s's %d addresses while frozen: %s", victim, len(perNode[victim]), tr.summary())
	tr.check(t, crashBound)
	time.Sleep(time.Until(fault.Add(frozenFor)))
	l.ThawNode(vi)
	thawed := time.Now()
	var overlaps, retaken int
	for time.Since(thawed) < leaseDuration+settle {
		owners, err := l.OwnersOfAll(addrs)
		if err != nil {
			t.Fatalf("owners: %v", err)
		}
		for _, o := range owners {
			if len(o) > 1 {
				overlaps++
			}
			if slices.Contains(o, victim) {
				retaken++
			}
		}
		time.Sleep(ownerSampleEvery)
	}
	if overlaps > 0 || retaken > 0 {
		t.Errorf("after SIGCONT: %d (address, sample) pairs on two nodes, %d held by %s again; want none", overlaps, retaken, victim)
	}
	for i, pid := range pids {
		if l.NodePID(i) != pid || !l.NodeAlive(i) {
			t.Errorf("daemon of %s: pid %d before the freeze, now %d alive=%v; want the same daemon", l.NodeName(i), pid, l.NodePID(i), l.NodeAlive(i))
		}
	}
}
