package tenure_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipkeeper/vipkeeper/pkg/tenure"
)

// window is the witness window of these tests: a peer heard less than
// 1.5s ago is live evidence.
const window = 1500 * ms

// heard reports a peer heard at t0+d.
func heard(d time.Duration) step {
	return func(tn *tenure.Tenure) string { tn.Witness(at(d)); return "" }
}

// checkWitnessed compares Witnessed(t0+d) with want.
func checkWitnessed(d time.Duration, want bool) step {
	return func(tn *tenure.Tenure) string {
		if diff := cmp.Diff(want, tn.Witnessed(at(d))); diff != "" {
			return fmt.Sprintf("Witnessed(t0+%v) mismatch (-want +got):\n%s", d, diff)
		}
		return ""
	}
}

// The witness rule: a holder rides past its deadline only while a peer
// was heard on the VIP's link within the window, without a lapse since
// the deadline; otherwise it is gone by its deadline, as under release.
// Every holder renewed at t0 (deadline t0+4.5s) and lost the API server
// at t0+2s.
func TestWitness(t *testing.T) {
	outage := []step{ev(elected(1)), ev(renewed(0)), api(false, 2*s)}
	for _, sc := range []scenario{{
		name: "pure API outage, peers heard: the ride goes on, rechecked when the evidence goes stale", hold: true,
		steps: []step{
			heard(4 * s),
			check(deadline, ridingUntil(5500*ms)),
			heard(5 * s),
			check(5200*ms, ridingUntil(6500*ms)),
			heard(6 * s), heard(7 * s),
			check(7*s, ridingUntil(8500*ms)),
		},
	}, {
		name: "cut off from the peers too: gone by the deadline", hold: true,
		steps: []step{
			heard(s),
			check(3*s, held(deadline)), // the Lease alone still holds
			check(deadline, no(tenure.Unwitnessed)),
			check(time.Hour, no(tenure.Unwitnessed)),
		},
	}, {
		name: "never heard a peer (a group of one): gone by the deadline", hold: true,
		steps: []step{check(deadline-1, held(deadline)), check(deadline, no(tenure.Unwitnessed))},
	}, {
		name: "the evidence goes stale during the ride: it ends", hold: true,
		steps: []step{
			heard(4 * s),
			check(5499*ms, ridingUntil(5500*ms)),
			check(5500*ms, no(tenure.Unwitnessed)),
		},
	}, {
		name: "a lapse during the ride ends it for good, even when peers are heard again", hold: true,
		steps: []step{
			heard(4 * s), heard(6 * s), // stale from 5.5s to 6s
			check(6100*ms, no(tenure.Unwitnessed)),
			heard(6500 * ms),
			check(6600*ms, no(tenure.Unwitnessed)),
		},
	}, {
		name: "a lapse before the deadline does not count", hold: true,
		steps: []step{
			heard(500 * ms), heard(3 * s), heard(4 * s),
			check(deadline, ridingUntil(5500*ms)),
		},
	}, {
		name: "a renewal after a lapse: held, and the next ride may be witnessed", hold: true,
		steps: []step{
			heard(4 * s), heard(6 * s),
			check(6*s, no(tenure.Unwitnessed)),
			api(true, 7*s), ev(renewed(7 * s)),
			check(7*s, held(7*s+overdue)),
			api(false, 8*s), heard(11 * s),
			check(11500*ms, riding12500),
		},
	}, {
		name: "an older report changes nothing", hold: true,
		steps: []step{
			heard(4 * s), heard(3 * s),
			check(deadline, ridingUntil(5500*ms)),
		},
	}, {
		name: "release: the witness does not matter", hold: false,
		steps: []step{heard(4 * s), check(deadline, no(tenure.APIUnreachable))},
	}, {
		name: "the API server is back: the ride to renew needs the witness too", hold: true,
		steps: []step{
			heard(4 * s), api(true, 5*s),
			check(5*s, ridingUntil(5500*ms)),
			check(5500*ms, no(tenure.Unwitnessed)),
		},
	}, {
		name: "unhealthy comes first", hold: true,
		steps: []step{heard(4 * s), healthy(false), check(deadline, no(tenure.Unhealthy))},
	}} {
		t.Run(sc.name, func(t *testing.T) {
			c := cfg(sc.hold)
			c.WitnessWindow = window
			tn := tenure.New(c, true)
			for _, st := range append(append([]step{}, outage...), sc.steps...) {
				if f := st(tn); f != "" {
					t.Error(f)
				}
			}
		})
	}
}

// riding12500 is a ride whose evidence (a peer heard at t0+11s) goes
// stale at t0+12.5s.
var riding12500 = ridingUntil(12500 * ms)

// Witnessed is strict at the end of the window, and always true without
// one.
func TestWitnessed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		window time.Duration
		steps  []step
	}{{
		name: "never heard", window: window,
		steps: []step{checkWitnessed(0, false)},
	}, {
		name: "within the window, not at its end", window: window,
		steps: []step{heard(s), checkWitnessed(s, true), checkWitnessed(2499*ms, true), checkWitnessed(2500*ms, false)},
	}, {
		name: "no window: always", window: 0,
		steps: []step{checkWitnessed(0, true), checkWitnessed(time.Hour, true)},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg(true)
			c.WitnessWindow = tc.window
			tn := tenure.New(c, true)
			for _, st := range tc.steps {
				if f := st(tn); f != "" {
					t.Error(f)
				}
			}
		})
	}
}

// The kernel lifetime is extended past the deadline only while the
// evidence is live: a holder cut off from its peers keeps the deadline,
// so the kernel drops its addresses by then even if its loop stalls.
func TestWitnessLifetime(t *testing.T) {
	for _, sc := range []scenario{{
		name:  "an outage with the peers heard: extended by a renewal's worth",
		steps: []step{heard(2500 * ms), life(3*s, 3*s+deadline, true)},
	}, {
		name:  "an outage without a witness: the deadline",
		steps: []step{life(3*s, deadline, true), life(deadline, 0, false)},
	}, {
		name: "riding witnessed, then not: the last extension stands, the verdict does not",
		steps: []step{
			heard(4 * s), life(deadline, 2*deadline, true),
			check(5500*ms, no(tenure.Unwitnessed)),
			life(5500*ms, 0, false),
		},
	}} {
		t.Run(sc.name, func(t *testing.T) {
			c := cfg(true)
			c.WitnessWindow = window
			tn := tenure.New(c, true)
			steps := []step{ev(elected(1)), ev(renewed(0)), api(false, 2*s)}
			for _, st := range append(steps, sc.steps...) {
				if f := st(tn); f != "" {
					t.Error(f)
				}
			}
		})
	}
}

// An overdue renewal extends the lifetime like a ride only with live
// evidence: a holder cut off from its peers keeps the deadline's.
func TestWitnessOverdue(t *testing.T) {
	for _, sc := range []struct {
		name  string
		steps []step
	}{{
		name:  "no peer heard: the deadline",
		steps: []step{ev(elected(1)), ev(renewed(0)), life(overdue, deadline, true)},
	}, {
		name:  "a peer heard: extended",
		steps: []step{ev(elected(1)), ev(renewed(0)), heard(2 * s), life(overdue, overdue+deadline, true)},
	}, {
		name:  "the evidence went stale: the deadline",
		steps: []step{ev(elected(1)), ev(renewed(0)), heard(500 * ms), life(overdue, deadline, true)},
	}} {
		t.Run(sc.name, func(t *testing.T) {
			c := cfg(true)
			c.WitnessWindow = window
			tn := tenure.New(c, true)
			for _, st := range sc.steps {
				if f := st(tn); f != "" {
					t.Error(f)
				}
			}
		})
	}
}
