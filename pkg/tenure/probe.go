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
	// BindContested: another host still answers after the longest
	// lifetime any earlier holder's kernel can have kept the address for
	// (see Probe): it is not a vipkeeper that held by a Lease (a host
	// configured with the address by hand, a misconfiguration). Bind
	// anyway, and let the announcements win the clients over: waiting on
	// would leave the address unserved for as long as the other host stays
	// wrong. Callers make it loud: a warning, an Event and a metric.
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
// says whether another host still answered for it. The probe is a fence,
// not a delay: a new holder waits for silence. A holder riding through an
// outage yields when it sees the probe, so the next round usually finds
// the address free; a frozen or dead one stops answering when the kernel
// drops the address, by the last lifetime it gave it. That lifetime never
// reaches further than lease duration − safety margin past the instant it
// was given (a renewal, or a tick of a ride), which was before this probe
// began; so silence is awaited for that long (or the configured budget, if
// longer), and only what still answers then is contested.
func (t *Tenure) Probe(began, now time.Time, answered bool) ProbeOutcome {
	return t.cfg.Probe(began, now, answered)
}

// Probe is Tenure.Probe for a goroutine that probes beside the loop: it
// reads only the configuration.
func (c Config) Probe(began, now time.Time, answered bool) ProbeOutcome {
	switch {
	case !answered:
		return Bind
	case now.Sub(began) >= c.silence():
		return BindContested
	}
	return Wait
}

// silence is how long Probe waits for an address to fall silent: the
// longest lifetime an earlier holder's kernel can still give it (a
// rideStep, lateness included), or ProbeBudget if longer.
func (c Config) silence() time.Duration {
	return max(c.ProbeBudget, c.rideStep())
}
