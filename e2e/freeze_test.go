package e2e

import (
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/e2e/lab"
)

func TestAPIFreeze(t *testing.T) { scenarioAPIFreeze(t, &measurement{Scenario: "api-freeze"}) }

// api-freeze: SIGSTOP the API server for longer than the lease duration,
// then SIGCONT. Unlike api-outage (a stopped server refuses connections at
// once) every connection stays open and nothing answers: requests and
// watches hang, and only timeouts and the watchdog tell. Asserted: no
// instant with two owners, no daemon restarted, one owner serving at the
// end; and, with the default --api-outage=hold, that the holder rode the
// freeze and kept the VIP after it (the followers' watchdogs judged the API
// unreachable and told their elections they were blind, so none took the
// Lease the moment the server answered again).
func scenarioAPIFreeze(t *testing.T, m *measurement) {
	const freeze = 2 * leaseDuration
	r := startRun(t, m, lab.Options{}, 0)
	r.mark()
	r.l.FreezeAPIServer()
	time.Sleep(time.Until(r.fault.Add(freeze)))
	back := r.rec.Mark("api-thaw")
	r.l.ThawAPIServer()
	r.m.note(t, "during the freeze (%v): %s", back.Sub(r.fault).Round(time.Millisecond), r.rec.Between(r.fault, back))
	// A follower that may take the stale Lease does so a lease duration
	// after the thaw at the latest; give that time to happen and settle.
	time.Sleep(leaseDuration + settle)
	r.m.note(t, "after the thaw: %s", r.rec.Between(back, time.Now()))
	none, held := r.checkHeldBy(t, r.fault, time.Now(), "from the freeze on")
	r.m.note(t, "from the freeze on: %d owner samples without an owner; owners seen %v (leader %s)", none, held, r.leaderName())
	r.endServed(t)
}
