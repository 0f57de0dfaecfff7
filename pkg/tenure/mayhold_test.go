package tenure_test

import (
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/pkg/tenure"
)

// Every holder below renewed (sent its write) at t0 unless it says
// otherwise, so its deadline is t0+4.5s; a ride lasts until 3s after the
// API server is back.
const (
	ms       = time.Millisecond
	s        = time.Second
	deadline = 4500 * ms
)

func TestMayHold(t *testing.T) {
	runScenarios(t, []scenario{{
		name: "fresh holder before its deadline", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)),
			// Under hold, the loop is woken when the renewal is overdue
			// (to extend lifetimes); nothing else changes.
			check(0, held(overdue)),
			check(s, held(overdue)),
			check(overdue, held(deadline)),
			check(deadline-1, held(deadline)),
		},
	}, {
		name: "fresh holder under release", hold: false, healthy: true,
		steps: []step{ev(elected(1)), ev(renewed(0)), check(s, held(deadline))},
	}, {
		name: "exactly at the deadline", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)),
			check(deadline, no(tenure.DeadlinePassed)),
			check(time.Hour, no(tenure.DeadlinePassed)),
		},
	}, {
		name: "exactly at the deadline under release", hold: false, healthy: true,
		steps: []step{ev(elected(1)), ev(renewed(0)), check(deadline, no(tenure.DeadlinePassed))},
	}, {
		name: "nothing yet", hold: true, healthy: true,
		steps: []step{check(0, no(tenure.NotLeading))},
	}, {
		name: "elected, never renewed", hold: true, healthy: true,
		steps: []step{ev(elected(1)), check(0, no(tenure.NotLeading)), check(time.Hour, no(tenure.NotLeading))},
	}, {
		name: "never renewed, in an outage", hold: true, healthy: true,
		steps: []step{ev(elected(1)), api(false, 0), check(s, no(tenure.NotLeading))},
	}, {
		name: "unhealthy, even when fresh", hold: true, healthy: false,
		steps: []step{
			ev(elected(1)), ev(renewed(0)),
			check(s, no(tenure.Unhealthy)),
			healthy(true), check(s, held(overdue)),
			healthy(false), check(2*s, no(tenure.Unhealthy)),
		},
	}, {
		name: "unhealthy before anything", hold: true, healthy: false,
		steps: []step{check(0, no(tenure.Unhealthy))},
	}, {
		name: "release: API down past the deadline", hold: false, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, 2*s),
			check(3*s, held(deadline)),
			check(deadline, no(tenure.APIUnreachable)),
			check(time.Hour, no(tenure.APIUnreachable)),
		},
	}, {
		name: "hold: an outage that begins before the deadline and lasts", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, 2*s),
			check(3*s, held(deadline)),
			check(deadline, riding),
			check(time.Hour, riding),
		},
	}, {
		name: "hold: the API comes back after the deadline", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, 2*s), api(true, 10*s),
			check(10*s, ridingUntil(13*s)),
			check(13*s-1, ridingUntil(13*s)),
			check(13*s, no(tenure.APIBackNotRenewed)),
			check(time.Hour, no(tenure.APIBackNotRenewed)),
		},
	}, {
		name: "hold: the API comes back exactly at the deadline", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, 2*s), api(true, deadline),
			check(deadline, ridingUntil(deadline+3*s)),
			check(deadline+3*s, no(tenure.APIBackNotRenewed)),
		},
	}, {
		name: "hold: a renewal after the API is back", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, 2*s), api(true, 10*s),
			check(11*s, ridingUntil(13*s)),
			ev(renewed(11 * s)),
			check(11*s, held(11*s+overdue)),
			check(15500*ms-1, held(15500*ms)),
			check(15500*ms, no(tenure.DeadlinePassed)),
		},
	}, {
		name: "hold: an outage that begins after the deadline: not OK", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)),
			check(deadline, no(tenure.DeadlinePassed)),
			api(false, 5*s),
			checkOK(5*s, false),
			checkOK(time.Hour, false),
			api(true, 10*s),
			checkOK(10*s, false),
		},
	}, {
		name: "hold: an outage that begins exactly at the deadline: not OK", hold: true, healthy: true,
		steps: []step{ev(elected(1)), ev(renewed(0)), api(false, deadline), checkOK(deadline, false), checkOK(time.Hour, false)},
	}, {
		name: "hold: an outage after the deadline says the deadline passed", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, 5*s),
			check(5*s, no(tenure.DeadlinePassed)),
		},
	}, {
		name: "release: an outage after the deadline says the deadline passed", hold: false, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, 5*s),
			check(5*s, no(tenure.DeadlinePassed)),
		},
	}, {
		name: "hold: an outage that ended before the deadline gives no ride", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, s), api(true, 2*s),
			check(4*s, held(deadline)),
			check(deadline, no(tenure.DeadlinePassed)),
			check(time.Hour, no(tenure.DeadlinePassed)),
		},
	}, {
		name: "hold: a second outage after the deadline gives no ride", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, s), api(true, 2*s), api(false, 5*s),
			checkOK(5*s, false), checkOK(time.Hour, false),
		},
	}, {
		name: "hold: Lost during the outage rides while down", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, s),
			ev(lost(1)),
			check(2*s, riding),
			check(time.Hour, riding),
			api(true, 70*s),
			check(70*s, ridingUntil(73*s)),
			check(73*s, no(tenure.APIBackNotRenewed)),
		},
	}, {
		name: "hold: Lost during an outage that ends before the deadline rides a renew deadline", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, s), ev(lost(1)), api(true, 3*s),
			check(3*s, ridingUntil(6*s)),
			check(6*s, no(tenure.APIBackNotRenewed)),
		},
	}, {
		name: "Lost with the API up and no outage", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), ev(lost(1)),
			check(s, no(tenure.NotLeading)),
			check(time.Hour, no(tenure.NotLeading)),
		},
	}, {
		name: "Lost under release", hold: false, healthy: true,
		steps: []step{ev(elected(1)), ev(renewed(0)), ev(lost(1)), check(s, no(tenure.NotLeading))},
	}, {
		name: "an old outage before the last renewal, then Lost", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), api(false, s), api(true, 2*s), ev(renewed(3 * s)), ev(lost(1)),
			check(4*s, no(tenure.NotLeading)),
			check(time.Hour, no(tenure.NotLeading)),
		},
	}, {
		name: "Lost with the API up, then an outage before the old deadline: no ride", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), ev(lost(1)),
			check(s, no(tenure.NotLeading)),
			api(false, 2*s),
			checkOK(2*s, false),
			checkOK(time.Hour, false),
		},
	}, {
		name: "hold: an unhealthy node never rides", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, s), healthy(false),
			check(2*s, no(tenure.Unhealthy)),
			check(time.Hour, no(tenure.Unhealthy)),
			api(true, 2*time.Hour),
			check(2*time.Hour, no(tenure.Unhealthy)),
		},
	}, {
		name: "hold: unhealthy across the deadline, healthy again in the outage: no ride", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, s), healthy(false),
			check(10*s, no(tenure.Unhealthy)),
			healthy(true),
			checkOK(10*s, false),
		},
	}, {
		name: "hold: unhealthy and healthy again before the deadline: held, but no ride (the VIP was dropped)", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, s), healthy(false), healthy(true),
			check(2*s, held(overdue)),
			check(10*s, no(tenure.APIUnreachable)),
		},
	}, {
		name: "hold: the API's verdict flaps during the outage: the ride goes on", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, s), api(true, 6*s), api(false, 7*s),
			check(30*s, riding),
		},
	}, {
		name: "hold: away again after the ride ended: no ride", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, s), api(true, 6*s), api(false, 10*s),
			check(30*s, no(tenure.DeadlinePassed)),
		},
	}, {
		name: "hold: a new term's first write, reported before the term, does not end the ride", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, s), ev(lost(1)), api(true, 20*s), ev(renewed(20*s + 100*time.Millisecond)),
			check(20*s+200*time.Millisecond, ridingUntil(23*s)),
			ev(elected(2)),
			check(20*s+200*time.Millisecond, held(20*s+100*time.Millisecond+overdue)),
		},
	}, {
		name: "a repeated down does not move the outage's start", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, s), api(false, 6*s),
			check(10*s, riding),
		},
	}, {
		name: "a repeated up does not move the API's return", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, s), api(true, 10*s), api(true, 12*s),
			check(12*s, ridingUntil(13*s)),
			check(13*s, no(tenure.APIBackNotRenewed)),
		},
	}, {
		name: "riding, then a new term with a renewal: held", hold: true, healthy: true,
		steps: []step{
			ev(elected(1)), ev(renewed(0)), api(false, s), ev(lost(1)), api(true, 10*s),
			check(10*s, ridingUntil(13*s)),
			ev(elected(2)), ev(renewed(11 * s)),
			check(11*s, held(11*s+overdue)),
		},
	}})
}
