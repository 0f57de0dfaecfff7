package lab

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// APISummary is what the API client saw over a window.
type APISummary struct {
	Reads        int `json:"reads"`
	FailedReads  int `json:"failed_reads"` // after client-go's retries
	Writes       int `json:"writes"`
	FailedWrites int `json:"failed_writes"`
	// Resets are round trips that ended in a connection reset, an EOF or a
	// GOAWAY beneath client-go (which retries a GET after one); a request
	// that then succeeded counts here and not as failed.
	Resets int `json:"resets"`
	// TransportErrors are all failed round trips beneath client-go,
	// Resets included.
	TransportErrors int `json:"transport_errors"`
	// ReadOutage is the longest time in the window during which no read
	// succeeded: between the completions of two successful reads, from the
	// window's start to the first one, or from the last one to the
	// window's end. Slow reads (a retry waits a second) count as much as
	// failed ones. With a read every 50 ms it is ~50 ms when nothing
	// happens.
	ReadOutage     time.Duration `json:"read_outage_ns"`
	MaxReadLatency time.Duration `json:"max_read_latency_ns"`
	// FailedByClass counts failed requests (reads and writes) by ErrClass.
	FailedByClass map[string]int `json:"failed_by_class,omitempty"`
	// Failures describe the first failed requests (at most maxFailures),
	// relative to the window's start.
	Failures []string `json:"failures,omitempty"`
	// Skipped are ticks with too many requests in flight, over the whole
	// run (APIClient.Summary sets it).
	Skipped int `json:"skipped,omitempty"`
}

// maxFailures bounds APISummary.Failures: the first few tell the story.
const maxFailures = 10

// SummarizeAPI summarizes the requests (in start order) that started in
// [from, to] and the transport errors in it.
func SummarizeAPI(reqs []APIRequest, terrs []TransportError, from, to time.Time) APISummary {
	var s APISummary
	for _, r := range reqs {
		if r.Start.Before(from) || r.Start.After(to) {
			continue
		}
		if r.Write {
			s.Writes++
		} else {
			s.Reads++
			s.MaxReadLatency = max(s.MaxReadLatency, r.Latency)
		}
		if r.Err != "" {
			if r.Write {
				s.FailedWrites++
			} else {
				s.FailedReads++
			}
			if s.FailedByClass == nil {
				s.FailedByClass = map[string]int{}
			}
			s.FailedByClass[r.Class]++
			if len(s.Failures) < maxFailures {
				verb := "GET"
				if r.Write {
					verb = "PATCH"
				}
				s.Failures = append(s.Failures, fmt.Sprintf("%+.3fs %s after %v: %s", r.Start.Sub(from).Seconds(), verb,
					r.Latency.Round(time.Millisecond), shortAPIErr(r.Err)))
			}
		}
	}
	// Gaps between successful reads, by completion: reads complete out of
	// start order when one is slow, and one that began before the window
	// may end in it.
	var done []time.Time
	for _, r := range reqs {
		if !r.Write && r.Err == "" && r.Done().After(from) && !r.Start.After(to) {
			done = append(done, r.Done())
		}
	}
	slices.SortFunc(done, time.Time.Compare)
	lastOK := from
	for _, d := range done {
		if d.After(to) {
			d = to
		}
		if d.After(lastOK) {
			s.ReadOutage = max(s.ReadOutage, d.Sub(lastOK))
			lastOK = d
		}
	}
	s.ReadOutage = max(s.ReadOutage, to.Sub(lastOK))
	for _, e := range terrs {
		if e.At.Before(from) || e.At.After(to) {
			continue
		}
		s.TransportErrors++
		if e.Class == ClassReset {
			s.Resets++
		}
	}
	return s
}

// shortAPIErr drops the repeated URL from a client-go error.
func shortAPIErr(s string) string {
	if i := strings.Index(s, "\": "); i >= 0 {
		return s[i+3:]
	}
	return s
}

// String is a one-line account for test logs.
func (s APISummary) String() string {
	return fmt.Sprintf("reads %d (failed %d), writes %d (failed %d), resets %d (transport errors %d), read outage %v, max read latency %v, failed by class %v",
		s.Reads, s.FailedReads, s.Writes, s.FailedWrites, s.Resets, s.TransportErrors,
		s.ReadOutage.Round(time.Millisecond), s.MaxReadLatency.Round(time.Millisecond), s.FailedByClass)
}
