package tenure_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipkeeper/vipkeeper/pkg/election"
	"github.com/vipkeeper/vipkeeper/pkg/tenure"
)

// t0 is the fixed base of every instant in these tests; no test reads a
// clock.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// at is t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// cfg is the timing of every test: the holder's deadline is 4.5s after
// its last renewal was sent (5s lease less a 500ms margin), a ride lasts
// 3s after the API server is back, and a probe may take 1s.
func cfg(hold bool) tenure.Config {
	return tenure.Config{
		LeaseDuration: 5 * time.Second,
		SafetyMargin:  500 * time.Millisecond,
		RenewDeadline: 3 * time.Second,
		RetryPeriod:   time.Second,
		Hold:          hold,
		ProbeBudget:   time.Second,
	}
}

// overdue is when a renewal at t0 is overdue under cfg: the retry period,
// plus half of what is left until the kernel may drop an address whose
// lifetime was set at t0 (4.5s − no lateness − 1s of rounding − 1s).
const overdue = 2250 * time.Millisecond

func elected(term uint64) election.Event { return election.Event{Kind: election.Elected, Term: term} }
func lost(term uint64) election.Event    { return election.Event{Kind: election.Lost, Term: term} }
func renewed(d time.Duration) election.Event {
	return election.Event{Kind: election.Renewed, Term: 1, At: at(d)}
}
func leader(term uint64, id string) election.Event {
	return election.Event{Kind: election.Leader, Term: term, Identity: id}
}

// step is one input to a Tenure, or one check of it; a check returns a
// description of a mismatch, other steps return "".
type step func(tn *tenure.Tenure) string

// ev applies an election event.
func ev(e election.Event) step {
	return func(tn *tenure.Tenure) string { tn.Election(e); return "" }
}

// healthy sets the node's health.
func healthy(h bool) step {
	return func(tn *tenure.Tenure) string { tn.SetHealthy(h); return "" }
}

// api sets the API server's reachability at t0+d.
func api(up bool, d time.Duration) step {
	return func(tn *tenure.Tenure) string { tn.SetAPI(up, at(d)); return "" }
}

// check compares MayHold at t0+d with want.
func check(d time.Duration, want tenure.Verdict) step {
	return func(tn *tenure.Tenure) string {
		if diff := cmp.Diff(want, tn.MayHold(at(d))); diff != "" {
			return fmt.Sprintf("MayHold(t0+%v) mismatch (-want +got):\n%s", d, diff)
		}
		return ""
	}
}

// checkOK compares only MayHold(t0+d).OK with ok.
func checkOK(d time.Duration, ok bool) step {
	return func(tn *tenure.Tenure) string {
		if diff := cmp.Diff(ok, tn.MayHold(at(d)).OK); diff != "" {
			return fmt.Sprintf("MayHold(t0+%v).OK mismatch (-want +got):\n%s", d, diff)
		}
		return ""
	}
}

// checkKeep compares KeepAgainst(t0+d, heldInTerm) with want.
func checkKeep(d time.Duration, heldInTerm uint64, want bool) step {
	return func(tn *tenure.Tenure) string {
		if diff := cmp.Diff(want, tn.KeepAgainst(at(d), heldInTerm)); diff != "" {
			return fmt.Sprintf("KeepAgainst(t0+%v, %d) mismatch (-want +got):\n%s", d, heldInTerm, diff)
		}
		return ""
	}
}

// Verdicts, spelled short.
func held(until time.Duration) tenure.Verdict {
	return tenure.Verdict{OK: true, Until: at(until), Why: tenure.Held}
}
func ridingUntil(until time.Duration) tenure.Verdict {
	return tenure.Verdict{OK: true, Until: at(until), Why: tenure.Riding}
}

var riding = tenure.Verdict{OK: true, Why: tenure.Riding}

func no(why tenure.Why) tenure.Verdict { return tenure.Verdict{Why: why} }

// scenario is a named sequence of steps on a fresh Tenure.
type scenario struct {
	name    string
	hold    bool
	healthy bool
	steps   []step
}

// runScenarios runs each scenario as a subtest on a New Tenure.
func runScenarios(t *testing.T, scenarios []scenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			tn := tenure.New(cfg(sc.hold), sc.healthy)
			for _, st := range sc.steps {
				if f := st(tn); f != "" {
					t.Error(f)
				}
			}
		})
	}
}
