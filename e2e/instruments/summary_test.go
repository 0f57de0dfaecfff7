package instruments

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func ms(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }

func ok(at int, node string) Probe { return Probe{Start: ms(at), Node: node} }
func bad(at int) Probe             { return Probe{Start: ms(at), Err: "i/o timeout"} }

func owners(at int, o ...string) Sample { return Sample{At: ms(at), Owners: o} }

func TestSummarize(t *testing.T) {
	tests := []struct {
		name    string
		probes  []Probe
		samples []Sample
		fault   int
		end     int
		want    Summary
	}{{
		name:    "no fault visible",
		probes:  []Probe{ok(0, "n1"), ok(20, "n1"), ok(40, "n1")},
		samples: []Sample{owners(0, "n1"), owners(25, "n1")},
		fault:   10, end: 50,
		want: Summary{Probes: 2, Before: "n1", After: "n1", Servers: []string{"n1"}, Recovered: true, MaxOwners: 1},
	}, {
		name:    "failover",
		probes:  []Probe{ok(0, "n1"), bad(20), bad(40), bad(60), ok(80, "n2"), ok(100, "n2")},
		samples: []Sample{owners(0, "n1"), owners(25), owners(50, "n2")},
		fault:   10, end: 110,
		// The outage counts from the fault: the last answer before it was earlier.
		want: Summary{Downtime: 70 * time.Millisecond, Probes: 5, Lost: 3, Before: "n1", After: "n2",
			Servers: []string{"n2"}, Recovered: true, MaxOwners: 1},
	}, {
		name:   "two outages, the longer counts",
		probes: []Probe{ok(0, "n1"), bad(20), ok(40, "n1"), bad(60), bad(80), bad(100), ok(120, "n2")},
		fault:  0, end: 130,
		want: Summary{Downtime: 80 * time.Millisecond, Probes: 7, Lost: 4, After: "n2",
			Servers: []string{"n1", "n2"}, Recovered: true},
	}, {
		name:   "never recovered",
		probes: []Probe{ok(0, "n1"), bad(20), bad(40)},
		fault:  10, end: 100,
		want: Summary{Downtime: 90 * time.Millisecond, Probes: 2, Lost: 2, Before: "n1"},
	}, {
		name:    "overlap counts until the next sample",
		samples: []Sample{owners(0, "n1"), owners(25, "n1", "n2"), owners(50, "n1", "n2"), owners(75, "n2"), owners(100, "n1", "n2")},
		fault:   0, end: 110,
		want: Summary{Overlap: 60 * time.Millisecond, OverlapSamples: 3, MaxOwners: 2},
	}, {
		name:    "monitor errors are counted",
		samples: []Sample{owners(0, "n1"), {At: ms(25), Err: "boom"}},
		fault:   0, end: 30,
		want: Summary{MaxOwners: 1, MonitorErrors: 1},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Summarize(tt.probes, tt.samples, ms(tt.fault), ms(tt.end))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Summarize() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTimeline(t *testing.T) {
	got := Timeline([]Probe{ok(0, "n1"), ok(20, "n1"), bad(40), ok(60, "n2")},
		[]Sample{owners(10, "n1"), owners(35), owners(50, "n2")}, t0)
	want := `   +0.000s served by n1
   +0.010s owners [n1]
   +0.035s owners []
   +0.040s probe error: i/o timeout
   +0.050s owners [n2]
   +0.060s served by n2
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Timeline() mismatch (-want +got):\n%s", diff)
	}
}
