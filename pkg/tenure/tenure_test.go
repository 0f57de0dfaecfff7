package tenure_test

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipkeeper/vipkeeper/pkg/election"
	"github.com/vipkeeper/vipkeeper/pkg/tenure"
)

// state is what an election event returned and the tenure after it.
type state struct {
	Change   tenure.Change
	Leading  bool
	Term     uint64
	Deadline time.Time
}

// anyChange in a want state accepts whatever Change the event returned.
const anyChange tenure.Change = -1

func TestElection(t *testing.T) {
	type evStep struct {
		ev   election.Event
		want state
	}
	var none time.Time
	tests := []struct {
		name  string
		steps []evStep
	}{{
		name:  "win",
		steps: []evStep{{elected(1), state{tenure.Began, true, 1, none}}},
	}, {
		name: "win then lose",
		steps: []evStep{
			{elected(1), state{tenure.Began, true, 1, none}},
			{lost(1), state{tenure.Ended, false, 1, none}},
		},
	}, {
		name:  "Lost of a term never led",
		steps: []evStep{{lost(1), state{tenure.Unchanged, false, 0, none}}},
	}, {
		name: "late Elected of a lost term is ignored",
		steps: []evStep{
			{lost(1), state{tenure.Unchanged, false, 0, none}},
			{elected(1), state{tenure.Unchanged, false, 0, none}},
		},
	}, {
		name: "Elected of a term that ended after we led it is ignored",
		steps: []evStep{
			{elected(1), state{tenure.Began, true, 1, none}},
			{lost(1), state{tenure.Ended, false, 1, none}},
			{elected(1), state{tenure.Unchanged, false, 1, none}},
		},
	}, {
		name: "Elected of a term older than a Lost seen is ignored",
		steps: []evStep{
			{lost(2), state{tenure.Unchanged, false, 0, none}},
			{elected(1), state{tenure.Unchanged, false, 0, none}},
			{elected(2), state{tenure.Unchanged, false, 0, none}},
			{elected(3), state{tenure.Began, true, 3, none}},
		},
	}, {
		name: "lose, campaign, win",
		steps: []evStep{
			{elected(1), state{tenure.Began, true, 1, none}},
			{lost(1), state{tenure.Ended, false, 1, none}},
			{elected(2), state{tenure.Began, true, 2, none}},
			{lost(2), state{tenure.Ended, false, 2, none}},
			{elected(3), state{tenure.Began, true, 3, none}},
		},
	}, {
		name: "a term never led, then a win",
		steps: []evStep{
			{lost(1), state{tenure.Unchanged, false, 0, none}},
			{elected(2), state{tenure.Began, true, 2, none}},
		},
	}, {
		name: "duplicate Elected keeps the term",
		steps: []evStep{
			{elected(1), state{tenure.Began, true, 1, none}},
			{elected(1), state{anyChange, true, 1, none}},
			{lost(1), state{tenure.Ended, false, 1, none}},
			{elected(1), state{tenure.Unchanged, false, 1, none}},
		},
	}, {
		name: "duplicate Elected takes over again",
		steps: []evStep{
			{elected(1), state{tenure.Began, true, 1, none}},
			{elected(1), state{tenure.Began, true, 1, none}},
		},
	}, {
		name: "duplicate Lost",
		steps: []evStep{
			{elected(1), state{tenure.Began, true, 1, none}},
			{lost(1), state{tenure.Ended, false, 1, none}},
			{lost(1), state{tenure.Unchanged, false, 1, none}},
		},
	}, {
		name: "Lost of an older term keeps the newer",
		steps: []evStep{
			{elected(2), state{tenure.Began, true, 2, none}},
			{lost(1), state{tenure.Unchanged, true, 2, none}},
		},
	}, {
		name: "a newer term ends the older before its Lost arrives",
		steps: []evStep{
			{elected(1), state{tenure.Began, true, 1, none}},
			{elected(2), state{tenure.Began, true, 2, none}},
			{lost(1), state{tenure.Unchanged, true, 2, none}},
			{elected(1), state{tenure.Unchanged, true, 2, none}},
		},
	}, {
		name: "Elected of an older term after a newer one is ignored",
		steps: []evStep{
			{elected(2), state{tenure.Began, true, 2, none}},
			{elected(1), state{tenure.Unchanged, true, 2, none}},
		},
	}, {
		name: "Lost of a newer term ends ours",
		steps: []evStep{
			{elected(1), state{tenure.Began, true, 1, none}},
			{lost(2), state{tenure.Ended, false, 1, none}},
			{elected(2), state{tenure.Unchanged, false, 1, none}},
		},
	}, {
		name: "Leader events change nothing",
		steps: []evStep{
			{leader(1, "node-b"), state{tenure.Unchanged, false, 0, none}},
			{elected(1), state{tenure.Began, true, 1, none}},
			{leader(1, "node-a"), state{tenure.Unchanged, true, 1, none}},
			{leader(2, "node-b"), state{tenure.Unchanged, true, 1, none}},
			{leader(0, ""), state{tenure.Unchanged, true, 1, none}},
			{lost(1), state{tenure.Ended, false, 1, none}},
			{leader(3, "node-a"), state{tenure.Unchanged, false, 1, none}},
			{elected(2), state{tenure.Began, true, 2, none}},
		},
	}, {
		name: "Renewed only moves forward",
		steps: []evStep{
			{elected(1), state{tenure.Began, true, 1, none}},
			{renewed(time.Second), state{tenure.Renewed, true, 1, at(5500 * time.Millisecond)}},
			{renewed(0), state{tenure.Unchanged, true, 1, at(5500 * time.Millisecond)}},
			{renewed(time.Second), state{tenure.Unchanged, true, 1, at(5500 * time.Millisecond)}},
			{renewed(time.Second + 1), state{tenure.Renewed, true, 1, at(5500*time.Millisecond + 1)}},
			{renewed(2 * time.Second), state{tenure.Renewed, true, 1, at(6500 * time.Millisecond)}},
		},
	}, {
		name: "the acquiring write before its Elected counts from the Elected",
		steps: []evStep{
			{renewed(0), state{tenure.Unchanged, false, 0, none}},
			{elected(1), state{tenure.Began, true, 1, at(4500 * time.Millisecond)}},
		},
	}, {
		name: "the acquiring write of a term that was lost before its Elected is dropped",
		steps: []evStep{
			{renewed(0), state{tenure.Unchanged, false, 0, none}},
			{lost(1), state{tenure.Unchanged, false, 0, none}},
			{elected(1), state{tenure.Unchanged, false, 0, none}},
		},
	}, {
		name: "Lost keeps the deadline of the last renewal",
		steps: []evStep{
			{elected(1), state{tenure.Began, true, 1, none}},
			{renewed(0), state{tenure.Renewed, true, 1, at(4500 * time.Millisecond)}},
			{lost(1), state{tenure.Ended, false, 1, at(4500 * time.Millisecond)}},
		},
	}, {
		name:  "an event of no known kind changes nothing",
		steps: []evStep{{election.Event{Kind: 0, Term: 1, At: at(0)}, state{tenure.Unchanged, false, 0, none}}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tn := tenure.New(cfg(true), true)
			var fails []string
			for i, s := range tc.steps {
				got := state{Change: tn.Election(s.ev)}
				got.Leading, got.Term, got.Deadline = tn.Leading(), tn.Term(), tn.Deadline()
				want := s.want
				if want.Change == anyChange {
					want.Change = got.Change
				}
				if diff := cmp.Diff(want, got); diff != "" {
					fails = append(fails, diffAt(i, s.ev, diff))
				}
			}
			for _, f := range fails {
				t.Error(f)
			}
		})
	}
}

func diffAt(i int, ev election.Event, diff string) string {
	return fmt.Sprintf("step %d (%v %d): mismatch (-want +got):\n%s", i, ev.Kind, ev.Term, diff)
}

func TestDeadlineAndFresh(t *testing.T) {
	type got struct {
		Deadline time.Time
		Fresh    []bool // at 0, 4.5s−1ns, 4.5s, 10s
	}
	probe := []time.Duration{0, 4500*time.Millisecond - 1, 4500 * time.Millisecond, 10 * time.Second}
	tests := []struct {
		name    string
		healthy bool
		evs     []election.Event
		want    got
	}{
		{"new", true, nil, got{time.Time{}, []bool{false, false, false, false}}},
		{"elected, never renewed", true, []election.Event{elected(1)},
			got{time.Time{}, []bool{false, false, false, false}}},
		{"renewed, never elected", true, []election.Event{renewed(0)},
			got{time.Time{}, []bool{false, false, false, false}}},
		{"elected and renewed", true, []election.Event{elected(1), renewed(0)},
			got{at(4500 * time.Millisecond), []bool{true, true, false, false}}},
		{"elected and renewed, unhealthy", false, []election.Event{elected(1), renewed(0)},
			got{at(4500 * time.Millisecond), []bool{false, false, false, false}}},
		{"elected, renewed, lost", true, []election.Event{elected(1), renewed(0), lost(1)},
			got{at(4500 * time.Millisecond), []bool{false, false, false, false}}},
		{"renewed again later", true, []election.Event{elected(1), renewed(0), renewed(6 * time.Second)},
			got{at(10500 * time.Millisecond), []bool{true, true, true, true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tn := tenure.New(cfg(true), tc.healthy)
			for _, e := range tc.evs {
				tn.Election(e)
			}
			g := got{Deadline: tn.Deadline()}
			for _, d := range probe {
				g.Fresh = append(g.Fresh, tn.Fresh(at(d)))
			}
			if diff := cmp.Diff(tc.want, g); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetAPI(t *testing.T) {
	type call struct {
		up   bool
		at   time.Duration
		back bool // want
	}
	tests := []struct {
		name  string
		calls []call
	}{
		{"up while up", []call{{true, 0, false}, {true, time.Second, false}}},
		{"down, then back", []call{{false, 0, false}, {true, time.Second, true}}},
		{"down twice, then back once", []call{
			{false, 0, false}, {false, time.Second, false},
			{true, 2 * time.Second, true}, {true, 3 * time.Second, false},
		}},
		{"two outages", []call{
			{false, 0, false}, {true, time.Second, true},
			{false, 2 * time.Second, false}, {true, 3 * time.Second, true},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tn := tenure.New(cfg(true), true)
			if !tn.APIUp() {
				t.Fatal("New: APIUp() = false, want true")
			}
			for _, c := range tc.calls {
				type res struct{ Back, APIUp bool }
				got := res{Back: tn.SetAPI(c.up, at(c.at))}
				got.APIUp = tn.APIUp()
				if diff := cmp.Diff(res{c.back, c.up}, got); diff != "" {
					t.Errorf("SetAPI(%v, t0+%v) mismatch (-want +got):\n%s", c.up, c.at, diff)
				}
			}
		})
	}
}

func TestSetHealthy(t *testing.T) {
	tn := tenure.New(cfg(true), true)
	type res struct{ Changed, Healthy bool }
	var got []res
	for _, h := range []bool{true, false, false, true, true} {
		got = append(got, res{tn.SetHealthy(h), tn.Healthy()})
	}
	want := []res{{false, true}, {true, false}, {false, false}, {true, true}, {false, true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	if tenure.New(cfg(true), false).Healthy() {
		t.Error("New(_, false).Healthy() = true")
	}
}

var snakeCase = regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)

// checkNames checks that names are distinct, snake_case and not the
// fallback: they become log fields and metric labels.
func checkNames(t *testing.T, names map[int]string) {
	t.Helper()
	seen := map[string]int{}
	for v, s := range names {
		if !snakeCase.MatchString(s) {
			t.Errorf("value %d: String() = %q, not snake_case", v, s)
		}
		if s == "unknown" {
			t.Errorf("value %d: String() = %q, the fallback", v, s)
		}
		if w, dup := seen[s]; dup {
			t.Errorf("values %d and %d both String() %q", w, v, s)
		}
		seen[s] = v
	}
}

func TestWhyString(t *testing.T) {
	names := map[int]string{}
	for _, w := range []tenure.Why{
		tenure.Held, tenure.Riding, tenure.Unhealthy, tenure.NotLeading,
		tenure.DeadlinePassed, tenure.APIUnreachable, tenure.APIBackNotRenewed,
	} {
		names[int(w)] = w.String()
	}
	checkNames(t, names)
	if diff := cmp.Diff("unknown", tenure.Why(0).String()); diff != "" {
		t.Errorf("Why(0) mismatch (-want +got):\n%s", diff)
	}
}

func TestProbeOutcomeString(t *testing.T) {
	names := map[int]string{}
	for _, o := range []tenure.ProbeOutcome{tenure.Wait, tenure.Bind, tenure.BindContested} {
		names[int(o)] = o.String()
	}
	checkNames(t, names)
	if diff := cmp.Diff("unknown", tenure.ProbeOutcome(0).String()); diff != "" {
		t.Errorf("ProbeOutcome(0) mismatch (-want +got):\n%s", diff)
	}
}
