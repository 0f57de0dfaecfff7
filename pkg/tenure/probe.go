package tenure

import "time"

// ProbeOutcome is what a new holder does after one round of its pre-bind
// probe.
type ProbeOutcome int

// The answers of Probe.
const (
	// Wait: another host still answers for the address; probe again.
	Wait ProbeOutcome = iota + 1
	// Bind: nobody answered.
	Bind
	// BindContested: another host still answers, but the probe budget is
	// spent: bind anyway, and let the announcements win the clients over
	// (the other host is a crashed daemon's kernel that still has the
	// address, or not a vipkeeper at all). Callers log it loudly.
	BindContested
)

func (o ProbeOutcome) String() string {
	switch o {
	case Wait:
		return "wait"
	case Bind:
		return "bind"
	case BindContested:
		return "bind_contested"
	}
	return "unknown"
}

// Probe decides after a probe round that ended at now, for an address
// whose first probe under the current claim started at began; answered
// says whether another host still answered for it. A holder riding
// through an outage yields when it sees the probe, so the next round
// usually finds the address free and no instant has two owners.
func (t *Tenure) Probe(began, now time.Time, answered bool) ProbeOutcome {
	return t.cfg.Probe(began, now, answered)
}

// Probe is Tenure.Probe for a goroutine that probes beside the loop: it
// reads only the configuration.
func (c Config) Probe(began, now time.Time, answered bool) ProbeOutcome {
	switch {
	case !answered:
		return Bind
	case now.Sub(began) >= c.ProbeBudget:
		return BindContested
	}
	return Wait
}
