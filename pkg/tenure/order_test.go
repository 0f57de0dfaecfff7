package tenure_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vipkeeper/vipkeeper/pkg/election"
	"github.com/vipkeeper/vipkeeper/pkg/tenure"
)

// standing is whether a term of ours runs, and which.
type standing struct {
	Leading bool
	Term    uint64 // only when Leading
}

// model is the term rule written independently of Tenure: a term t has
// ended once Lost t, or any event of a term above t, has arrived; an
// Elected counts only if its term had not ended when it arrived; the
// node leads the elected term that has not ended, if any (a later event
// ends every earlier term, so there is at most one).
func model(evs []election.Event) standing {
	ended := map[uint64]bool{}
	won := map[uint64]bool{}
	var seen []uint64 // terms of the events so far
	for _, e := range evs {
		if e.Kind == election.Elected && !ended[e.Term] {
			won[e.Term] = true
		}
		if e.Kind == election.Lost {
			ended[e.Term] = true
		}
		seen = append(seen, e.Term)
		for _, s := range seen {
			for t := uint64(1); t < s; t++ {
				ended[t] = true
			}
		}
	}
	var st standing
	for t := range won {
		if !ended[t] {
			if st.Leading {
				panic("model: two terms lead at once")
			}
			st = standing{true, t}
		}
	}
	return st
}

// sequences returns every ordering of every non-empty subset of evs
// that is a prefix of some permutation of evs — that is, every sequence
// of distinct events drawn from evs.
func sequences(evs []election.Event) [][]election.Event {
	var out [][]election.Event
	var grow func(prefix []election.Event, used []bool)
	grow = func(prefix []election.Event, used []bool) {
		if len(prefix) > 0 {
			out = append(out, append([]election.Event(nil), prefix...))
		}
		for i, e := range evs {
			if used[i] {
				continue
			}
			used[i] = true
			grow(append(prefix, e), used)
			used[i] = false
		}
	}
	grow(nil, make([]bool, len(evs)))
	return out
}

func name(evs []election.Event) string {
	var b strings.Builder
	for i, e := range evs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s%d", e.Kind, e.Term)
	}
	return b.String()
}

func testEveryOrder(t *testing.T, evs []election.Event, wantCount int) {
	seqs := sequences(evs)
	if len(seqs) != wantCount {
		t.Fatalf("got %d sequences, want %d", len(seqs), wantCount)
	}
	for _, seq := range seqs {
		tn := tenure.New(cfg(true), true)
		for _, e := range seq {
			tn.Election(e)
		}
		got := standing{Leading: tn.Leading()}
		if got.Leading {
			got.Term = tn.Term()
		}
		if diff := cmp.Diff(model(seq), got); diff != "" {
			t.Errorf("%s: mismatch (-want +got):\n%s", name(seq), diff)
		}
	}
}

func TestEveryOrderTwoTerms(t *testing.T) {
	// 4 + 4·3 + 4·3·2 + 4! = 64 sequences.
	testEveryOrder(t, []election.Event{elected(1), lost(1), elected(2), lost(2)}, 64)
}

func TestEveryOrderThreeTerms(t *testing.T) {
	// Σ 6!/(6−k)! for k = 1..6 = 6+30+120+360+720+720 = 1956 sequences.
	testEveryOrder(t, []election.Event{
		elected(1), lost(1), elected(2), lost(2), elected(3), lost(3),
	}, 1956)
}

// TestModel pins the model itself on a few sequences worked by hand, so
// that a wrong model cannot agree with a wrong Tenure.
func TestModel(t *testing.T) {
	tests := []struct {
		evs  []election.Event
		want standing
	}{
		{[]election.Event{elected(1)}, standing{true, 1}},
		{[]election.Event{lost(1), elected(1)}, standing{}},
		{[]election.Event{elected(1), lost(1), elected(2)}, standing{true, 2}},
		{[]election.Event{elected(2), lost(1)}, standing{true, 2}},
		{[]election.Event{lost(2), elected(1)}, standing{}},
		{[]election.Event{elected(1), lost(2)}, standing{}},
		{[]election.Event{lost(1), elected(2), elected(1)}, standing{true, 2}},
		{[]election.Event{elected(2), lost(2), elected(1)}, standing{}},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, model(tc.evs)); diff != "" {
			t.Errorf("%s: mismatch (-want +got):\n%s", name(tc.evs), diff)
		}
	}
}
