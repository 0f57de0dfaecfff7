package instruments

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Summary is what the instruments saw from a fault on.
type Summary struct {
	// Downtime is the longest time the client went unanswered: from the last
	// answer before a run of failed probes to the first answer after it (to
	// the end of the recording if none came). Zero if no probe failed.
	Downtime time.Duration `json:"downtime_ns"`
	// Overlap is how long two or more nodes held the VIP at once (each
	// sample counts until the next one); OverlapSamples counts such samples.
	Overlap        time.Duration `json:"overlap_ns"`
	OverlapSamples int           `json:"overlap_samples"`
	MaxOwners      int           `json:"max_owners"`
	Probes         int           `json:"probes"` // from the fault on
	Lost           int           `json:"lost"`   // probes without an answer, from the fault on
	Before         string        `json:"before"` // who answered last before the fault
	After          string        `json:"after"`  // who answered last of all ("" if nobody after the fault)
	Servers        []string      `json:"servers"`
	Recovered      bool          `json:"recovered"` // the last probe got an answer
	MonitorErrors  int           `json:"monitor_errors"`
}

// Summarize computes a Summary over probes and samples (both in time order)
// from fault to end.
func Summarize(probes []Probe, samples []Sample, fault, end time.Time) Summary {
	var s Summary
	lastOK := fault // an outage already in progress at the fault counts from the fault
	inRun := false
	for _, p := range probes {
		if p.Start.Before(fault) {
			if p.OK() {
				s.Before = p.Node
			}
			continue
		}
		if p.Start.After(end) {
			break
		}
		s.Probes++
		if !p.OK() {
			s.Lost++
			inRun = true
			continue
		}
		if inRun {
			s.Downtime = max(s.Downtime, p.Start.Sub(lastOK))
			inRun = false
		}
		lastOK = p.Start
		s.After = p.Node
		if !slices.Contains(s.Servers, p.Node) {
			s.Servers = append(s.Servers, p.Node)
		}
	}
	if inRun {
		s.Downtime = max(s.Downtime, end.Sub(lastOK))
	}
	s.Recovered = s.Probes > 0 && !inRun

	for i, m := range samples {
		if m.At.Before(fault) || m.At.After(end) {
			continue
		}
		if m.Err != "" {
			s.MonitorErrors++
		}
		s.MaxOwners = max(s.MaxOwners, len(m.Owners))
		if len(m.Owners) < 2 {
			continue
		}
		s.OverlapSamples++
		next := end
		if i+1 < len(samples) && samples[i+1].At.Before(end) {
			next = samples[i+1].At
		}
		s.Overlap += next.Sub(m.At)
	}
	return s
}

// String is a one-line account for test logs.
func (s Summary) String() string {
	return fmt.Sprintf("downtime=%v overlap=%v (%d samples, max %d owners) lost=%d/%d served %q→%q via %v recovered=%v",
		s.Downtime.Round(time.Millisecond), s.Overlap.Round(time.Millisecond), s.OverlapSamples, s.MaxOwners,
		s.Lost, s.Probes, s.Before, s.After, s.Servers, s.Recovered)
}

// Timeline lists the changes the instruments saw — who answered, which
// error, who held the VIP — relative to t0, one per line.
func Timeline(probes []Probe, samples []Sample, t0 time.Time) string {
	type event struct {
		at   time.Time
		what string
	}
	var ev []event
	last := "\x00"
	for _, p := range probes {
		what := "served by " + p.Node
		if !p.OK() {
			what = "probe error: " + p.Err
		}
		if what != last {
			ev = append(ev, event{p.Start, what})
			last = what
		}
	}
	last = "\x00"
	for _, m := range samples {
		what := fmt.Sprintf("owners %v", m.Owners)
		if m.Err != "" {
			what = "owners error: " + m.Err
		}
		if what != last {
			ev = append(ev, event{m.At, what})
			last = what
		}
	}
	slices.SortStableFunc(ev, func(a, b event) int { return a.at.Compare(b.at) })
	var b strings.Builder
	for _, e := range ev {
		fmt.Fprintf(&b, "%+9.3fs %s\n", e.at.Sub(t0).Seconds(), e.what)
	}
	return b.String()
}
