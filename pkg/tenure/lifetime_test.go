package tenure_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipkeeper/vipkeeper/pkg/election"
	"github.com/vipkeeper/vipkeeper/pkg/tenure"
)

// life compares Lifetime(t0+d) with want (0: none) and ok.
func life(d, want time.Duration, ok bool) step {
	return func(tn *tenure.Tenure) string {
		until, gotOK := tn.Lifetime(at(d))
		var wantUntil time.Time
		if ok {
			wantUntil = at(want)
		}
		if diff := cmp.Diff(struct {
			Until time.Time
			OK    bool
		}{wantUntil, ok}, struct {
			Until time.Time
			OK    bool
		}{until, gotOK}); diff != "" {
			return fmt.Sprintf("Lifetime(t0+%v) mismatch (-want +got):\n%s", d, diff)
		}
		return ""
	}
}

// The lifetime of a holder's addresses is its deadline; under hold, a ride
// (or an outage that may turn into one) extends it by one renewal's worth
// on every tick, and a ride whose loop stops extending it ends where the
// last extension does.
func TestLifetime(t *testing.T) {
	const s, ms = time.Second, time.Millisecond
	deadline := 4500 * ms // renewed at 0: 5s lease − 500ms margin
	// With the tests' 5s/500ms and no lateness, a ride is extended by
	// 4.5s and ticks every 2.25s.
	runScenarios(t, []scenario{{
		name: "not leading: none", hold: true, healthy: true,
		steps: []step{life(0, 0, false)},
	}, {
		name: "held: the deadline, moved by every renewal", hold: false, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)),
			life(s, deadline, true),
			ev(renewed(s)),
			life(2*s, deadline+s, true),
			life(deadline+s, 0, false),
		},
	}, {
		name: "release: an outage does not extend it", hold: false, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, s),
			life(2*s, deadline, true),
			life(deadline, 0, false),
		},
	}, {
		name: "hold: the outage extends it on every tick, and the ride goes on", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, s),
			life(s, s+deadline, true),
			check(s, held(s+2250*ms)), // tick
			life(3*s, 3*s+deadline, true),
			check(deadline, ridingUntil(deadline+2250*ms)),
			life(6*s, 6*s+deadline, true),
			life(10*s, 10*s+deadline, true),
			check(10*s, ridingUntil(12250*ms)),
		},
	}, {
		name: "hold: an overdue renewal extends it before any outage is declared", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)),
			life(s, deadline, true),
			check(s, held(overdue)),
			life(overdue, overdue+deadline, true),
			check(overdue, held(deadline)),
			ev(renewed(3 * s)),
			life(3*s, 3*s+deadline, true),
			check(3*s, held(3*s+overdue)),
			life(3*s+overdue, 3*s+overdue+deadline, true),
		},
	}, {
		name: "hold: overdue without an outage: the live loop still lets go at the deadline", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)),
			life(overdue, overdue+deadline, true),
			check(deadline, no(tenure.DeadlinePassed)),
			life(deadline, 0, false),
		},
	}, {
		name: "release: an overdue renewal extends nothing", hold: false, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)),
			check(s, held(deadline)),
			life(3*s, deadline, true),
		},
	}, {
		name: "hold: a frozen loop's ride ends where its last extension does", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, s),
			life(3*s, 3*s+deadline, true),
			check(3*s+deadline-1, riding3),
			check(3*s+deadline, no(tenure.APIUnreachable)),
			life(20*s, 0, false),
		},
	}, {
		name: "hold: frozen before the outage's first tick: the deadline", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), life(0, deadline, true), api(false, s),
			check(deadline, no(tenure.APIUnreachable)),
		},
	}, {
		name: "never 0 and never earlier than the deadline while held", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, s),
			life(2*s, 2*s+deadline, true),
			api(true, 3*s), ev(renewed(3 * s)),
			life(3*s, 3*s+deadline, true),
			life(4*s, 3*s+deadline, true),
		},
	}})
}

// riding3 is the ride of the frozen scenario, asked just before its end.
var riding3 = tenure.Verdict{OK: true, Until: at(7500 * time.Millisecond), Why: tenure.Riding}

// A ride through an outage that outlasted the term survives the write
// that acquires the next term when it arrives ahead of its Elected
// (client-go reports Elected from a goroutine of its own): the node stays
// on its ride until the Elected, then holds by the new term.
func TestRideSurvivesAcquisitionBeforeElected(t *testing.T) {
	const s = time.Second
	steps := []step{ev(elected(1)), ev(renewed(0)), life(0, 4500*time.Millisecond, true), api(false, s)}
	for i := 1; i <= 25; i++ {
		steps = append(steps, life(time.Duration(i)*s, time.Duration(i)*s+4500*time.Millisecond, true))
		if i == 3 {
			steps = append(steps, ev(lost(1)))
		}
	}
	steps = append(steps, api(true, 25*s+100*time.Millisecond), ev(election.Event{Kind: election.Renewed, Term: 3, At: at(25*s + 150*time.Millisecond)}), checkOK(25*s+200*time.Millisecond, true), ev(elected(3)), check(25*s+200*time.Millisecond, held(25*time.Second+150*time.Millisecond+overdue)))
	runScenarios(t, []scenario{{name: "outage, lost, back, acquired, elected", hold: true, healthy: true, steps: steps}})
}
