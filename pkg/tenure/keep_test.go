package tenure_test

import "testing"

func TestKeepAgainst(t *testing.T) {
	runScenarios(t, []scenario{{
		name: "fresh, held in the current term: keep", hold: true, healthy: true,
		steps: []step{ev(elected(1)), ev(renewed(0)), checkKeep(s, 1, true), checkKeep(deadline-1, 1, true)},
	}, {
		name: "fresh under release: keep", hold: false, healthy: true,
		steps: []step{ev(elected(1)), ev(renewed(0)), checkKeep(s, 1, true)},
	}, {
		name: "held in no term of ours: yield", hold: true, healthy: true,
		steps: []step{ev(elected(1)), ev(renewed(0)), checkKeep(s, 0, false)},
	}, {
		name: "held in an older term: yield", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), ev(lost(1)), ev(elected(2)), ev(renewed(s)),
			check(2*s, held(s+overdue)),
			checkKeep(2*s, 1, false),
			checkKeep(2*s, 2, true),
		},
	}, {
		name: "held in a term we never reached: yield", hold: true, healthy: true,
		steps: []step{ev(elected(1)), ev(renewed(0)), checkKeep(s, 2, false)},
	}, {
		name: "at the deadline: yield", hold: true, healthy: true,
		steps: []step{ev(elected(1)), ev(renewed(0)), checkKeep(deadline, 1, false)},
	}, {
		name: "riding past the deadline: yield", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, s),
			check(10*s, riding),
			checkKeep(10*s, 1, false),
			api(true, 11*s),
			check(11*s, ridingUntil(14*s)),
			checkKeep(11*s, 1, false),
		},
	}, {
		name: "riding after Lost: yield", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, s), ev(lost(1)),
			check(2*s, riding),
			checkKeep(2*s, 1, false),
		},
	}, {
		name: "in the outage but before the deadline: keep", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, s),
			check(2*s, held(overdue)),
			checkKeep(2*s, 1, true),
		},
	}, {
		name: "unhealthy: yield", hold: true, healthy: false,
		steps: []step{ev(elected(1)), ev(renewed(0)), checkKeep(s, 1, false)},
	}, {
		name: "term ended with the API up: yield", hold: true, healthy: true,
		steps: []step{ev(elected(1)), ev(renewed(0)), ev(lost(1)), checkKeep(s, 1, false)},
	}, {
		name: "elected, never renewed: yield", hold: true, healthy: true,
		steps: []step{ev(elected(1)), checkKeep(0, 1, false)},
	}, {
		name: "nothing yet: yield", hold: true, healthy: true,
		steps: []step{checkKeep(0, 0, false), checkKeep(0, 1, false)},
	}})
}
