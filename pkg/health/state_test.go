package health

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAggregate covers the Status rules, the Reason included, which can
// change without a notification ("waiting" → "rising" → "failing").
func TestAggregate(t *testing.T) {
	const rise = 2
	waiting := checkState{name: "a"}
	rising := checkState{name: "b", probed: true, RiseFall: RiseFall{Good: 1}}
	failing := checkState{name: "c", probed: true, RiseFall: RiseFall{Bad: 1}, reason: "status 503"}
	up := checkState{name: "d", probed: true, RiseFall: RiseFall{Up: true, Good: 2}}
	linkUp := linkView{tracked: true, known: true, state: linkState{up: true}}
	tests := map[string]struct {
		checks []checkState
		link   linkView
		want   Status
	}{
		"no checks, no link": {
			want: Status{Healthy: true, Checks: map[string]bool{}},
		},
		"every check up, link up": {
			checks: []checkState{up}, link: linkUp,
			want: Status{Healthy: true, Checks: map[string]bool{"d": true}},
		},
		"waiting for the first probe": {
			checks: []checkState{waiting, up},
			want:   Status{Reason: "check a waiting for first probe", Checks: map[string]bool{"a": false, "d": true}},
		},
		"rising": {
			checks: []checkState{up, rising},
			want:   Status{Reason: "check b rising: 1/2 good probes", Checks: map[string]bool{"b": false, "d": true}},
		},
		"failing: the first down check in order names the reason": {
			checks: []checkState{up, failing, rising},
			want:   Status{Reason: "check c failing: status 503", Checks: map[string]bool{"b": false, "c": false, "d": true}},
		},
		"link not read yet": {
			checks: []checkState{up}, link: linkView{tracked: true},
			want: Status{Reason: "link state unknown", LinkDown: true, Checks: map[string]bool{"d": true}},
		},
		"link down comes before the checks": {
			checks: []checkState{failing}, link: linkView{tracked: true, known: true, state: linkState{detail: "no carrier"}},
			want: Status{Reason: "link down", LinkDown: true, Checks: map[string]bool{"c": false}},
		},
		"untracked link is never down": {
			checks: []checkState{up}, link: linkView{known: true},
			want: Status{Healthy: true, Checks: map[string]bool{"d": true}},
		},
	}
	for name, tt := range tests {
		if diff := cmp.Diff(tt.want, aggregate(tt.checks, tt.link, rise)); diff != "" {
			t.Errorf("%s: aggregate (-want +got):\n%s", name, diff)
		}
	}
}

// TestRiseFallCounts walks one check through its probes: up after rise good
// ones in a row, down after fall failed ones in a row, and a single
// probe against the trend changes nothing.
func TestRiseFallCounts(t *testing.T) {
	const rise, fall = 2, 3
	probes := []bool{true, false, true, true, false, false, true, false, false, false, true}
	want := []bool{false, false, false, true, true, true, true, true, true, false, false}
	var h RiseFall
	var got []bool
	for _, ok := range probes {
		was := h.Up
		if changed := h.Observe(ok, rise, fall); changed != (h.Up != was) {
			t.Fatalf("Observe reported changed=%v, Up went %v → %v", changed, was, h.Up)
		}
		got = append(got, h.Up)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Up after each probe (-want +got):\n%s", diff)
	}
}
