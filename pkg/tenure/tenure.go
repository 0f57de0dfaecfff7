package tenure

import (
	"time"

	"github.com/vipkeeper/vipkeeper/pkg/election"
)

// Config is the timing and policy of one Lease.
type Config struct {
	// LeaseDuration and SafetyMargin set the holder's own deadline:
	// (send time of the last successful renewal) + LeaseDuration −
	// SafetyMargin.
	LeaseDuration, SafetyMargin time.Duration
	// RenewDeadline is how long a holder riding through an outage keeps
	// its addresses after the API server is back, to renew its Lease.
	RenewDeadline time.Duration
	// RetryPeriod is how often the holder renews: under hold, a renewal
	// missing for longer (see overdueAt) may be the start of an outage.
	RetryPeriod time.Duration
	// Hold rides through API outages (--api-outage hold); without it the
	// holder is gone by its deadline whatever the cause (release).
	Hold bool
	// ProbeBudget bounds the pre-bind probe of one address (see Probe).
	ProbeBudget time.Duration
	// Lateness is how late the kernel may remove an address whose
	// lifetime ran out (pkg/vip); it paces the ticks of a ride (rideTick).
	Lateness time.Duration
	// WitnessWindow is how recently a peer must have been heard on the
	// VIP's link for a ride to continue past the deadline (Witness);
	// zero needs no witness (--witness none).
	WitnessWindow time.Duration
}

// rideStep is how far one tick of a ride extends its lifetime: as far as a
// renewal at that instant would have moved the deadline.
func (c Config) rideStep() time.Duration { return c.LeaseDuration - c.SafetyMargin }

// rideTick is how often a holder that rides (or may ride) through an
// outage must ask Lifetime again: half of the shortest lifetime the
// binder gives for a rideStep, so a live loop always extends a lifetime
// before the kernel ends it, and a frozen one does not.
func (c Config) rideTick() time.Duration {
	return max((c.rideStep()-c.Lateness)/2, 100*time.Millisecond) // a floor for nonsensical settings, which config rejects
}

// Why says why a node may or may not hold. The values are a small fixed
// set, fit for logs and for mapping onto a metrics label.
type Why int

// The answers of MayHold.
const (
	// Held: this node leads the Lease and its deadline has not passed.
	Held Why = iota + 1
	// Riding: the lease may be gone, but the API server is unreachable (or
	// came back less than a renew deadline ago) and the policy is hold.
	Riding
	// Unhealthy: a health check fails or the link is down.
	Unhealthy
	// NotLeading: this node has no term of the Lease (never won, or the
	// term ended).
	NotLeading
	// DeadlinePassed: no renewal succeeded for LeaseDuration −
	// SafetyMargin while the API server was reachable.
	DeadlinePassed
	// APIUnreachable: the deadline passed while the API server was
	// unreachable and the policy is release.
	APIUnreachable
	// APIBackNotRenewed: the ride through an outage ended: the API server
	// has been back for a renew deadline and the Lease was not renewed.
	APIBackNotRenewed
	// Unwitnessed: the holder could ride, but no peer was heard on the
	// VIP's link within the witness window: a takeover might not reach
	// it, so it is gone by its deadline as under release.
	Unwitnessed
)

func (w Why) String() string {
	switch w {
	case Held:
		return "held"
	case Riding:
		return "riding"
	case Unhealthy:
		return "unhealthy"
	case NotLeading:
		return "not_leading"
	case DeadlinePassed:
		return "deadline"
	case APIUnreachable:
		return "api_unreachable"
	case APIBackNotRenewed:
		return "api_back_not_renewed"
	case Unwitnessed:
		return "unwitnessed"
	}
	return "unknown"
}

// Verdict is the answer of MayHold.
type Verdict struct {
	// OK: the node may hold its addresses now.
	OK bool
	// Until is when the verdict must be asked again at the latest, if
	// nothing else changes; zero means it stands until an input changes.
	Until time.Time
	Why   Why
}

// Change is what an election event did to the tenure.
type Change int

// The results of Election.
const (
	// Unchanged: the event was stale, or not about our term.
	Unchanged Change = iota
	// Began: a term of ours began (Elected), or was reported again: a
	// holder takes over (again) on either.
	Began
	// Ended: the term we led ended (Lost).
	Ended
	// Renewed: a renewal moved the deadline.
	Renewed
)

// Tenure is one node's standing on one Lease. The zero value is not
// usable; use New. It is not safe for concurrent use: one loop owns it.
type Tenure struct {
	cfg     Config
	healthy bool
	apiUp   bool
	apiDown time.Time // when the API server was last seen going away
	// rideable: the node held (by its Lease, or riding) when the API
	// server went away, and has stayed healthy since: only such a holding
	// may be continued by a ride. rideDeadline is the holder's deadline
	// when the ride's first outage began; endedInOutage says the term
	// ended while the API server was away.
	rideable      bool
	rideDeadline  time.Time
	endedInOutage bool
	apiBack       time.Time // when the API server was last seen coming back
	leading       bool
	term          uint64    // the term we lead, while leading
	lostUpTo      uint64    // every term <= lostUpTo has ended
	lastRenew     time.Time // send time of our last successful write
	// rideUntil is the latest deadline Lifetime handed out (zero before
	// the first): a ride lasts only while its loop keeps extending it.
	rideUntil time.Time
	// heard is when a peer was last heard on the VIP's link; lapse is
	// when the evidence last went stale between two reports (Witness).
	heard, lapse time.Time
}

// New returns the tenure of a node that leads nothing yet, with the API
// server taken as reachable.
func New(cfg Config, healthy bool) *Tenure {
	return &Tenure{cfg: cfg, healthy: healthy, apiUp: true}
}

// Election applies one event of the Lease's election. Leader events (who
// holds the Lease) change nothing here.
func (t *Tenure) Election(ev election.Event) Change {
	switch ev.Kind {
	case election.Elected:
		if ev.Term <= t.lostUpTo {
			return Unchanged // a late Elected of a term that already ended
		}
		// Terms run one after another: a new term means every earlier one
		// has ended, even if its Lost is still on its way.
		t.lostUpTo = max(t.lostUpTo, ev.Term-1)
		t.term, t.leading = ev.Term, true
		return Began
	case election.Lost:
		t.lostUpTo = max(t.lostUpTo, ev.Term)
		if !t.leading || t.term > ev.Term {
			return Unchanged // a term we never led, or an older one
		}
		t.leading = false
		if !t.apiUp && t.rideable {
			t.endedInOutage = true
		}
		return Ended
	case election.Renewed:
		if ev.At.After(t.lastRenew) {
			t.lastRenew = ev.At
			return Renewed
		}
	}
	return Unchanged
}

// SetHealthy records the node's health and reports whether it changed.
func (t *Tenure) SetHealthy(healthy bool) bool {
	changed := t.healthy != healthy
	t.healthy = healthy
	if !healthy {
		t.rideable = false // an unhealthy node drops everything
	}
	return changed
}

// SetAPI records the API server's reachability at now and reports whether
// it just came back.
func (t *Tenure) SetAPI(up bool, now time.Time) (back bool) {
	switch {
	case up && !t.apiUp:
		t.apiBack, back = now, true
	case !up && t.apiUp:
		t.apiDown = now
		// The outage continues whatever holding there is now: one by the
		// Lease, or a ride whose API server came back less than a renew
		// deadline ago and went away again (the watchdog's verdict can
		// flap during an outage), which keeps its first outage's start.
		switch t.MayHold(now).Why {
		case Held:
			t.rideable, t.rideDeadline, t.endedInOutage = true, t.Deadline(), false
		case Riding:
		default:
			t.rideable = false
		}
	}
	t.apiUp = up
	return back
}

// Healthy reports the node's health.
func (t *Tenure) Healthy() bool { return t.healthy }

// APIUp reports whether the API server is reachable.
func (t *Tenure) APIUp() bool { return t.apiUp }

// Leading reports whether a term of ours runs.
func (t *Tenure) Leading() bool { return t.leading }

// Term is the term we lead (or led last); 0 before the first.
func (t *Tenure) Term() uint64 { return t.term }

// Deadline is when the holder must be gone unless it renews again: the
// send time of its last successful renewal + LeaseDuration −
// SafetyMargin. Zero before the first renewal.
func (t *Tenure) Deadline() time.Time {
	if t.lastRenew.IsZero() {
		return time.Time{}
	}
	return t.lastRenew.Add(t.cfg.LeaseDuration - t.cfg.SafetyMargin)
}

// Fresh reports whether the node holds by its Lease alone: healthy,
// leading, and before its deadline. Only a fresh node takes addresses from
// others, writes claims or allocates.
func (t *Tenure) Fresh(now time.Time) bool {
	return t.healthy && t.leading && !t.lastRenew.IsZero() && now.Before(t.Deadline())
}

// riding reports whether a holder may keep its addresses past its
// deadline or its term: the policy is hold, the last outage of the API
// server began while the node held by its Lease and spans its deadline or
// the end of its term, and the API server is still unreachable or came
// back less than a renew deadline ago (time to renew). A ride continues a
// holding; it never starts one: an outage that begins after the deadline
// or after the term ended finds the node already gone, and a node that
// turned unhealthy meanwhile has dropped everything.
func (t *Tenure) riding(now time.Time) bool {
	return t.mayContinue(now) && t.witnessed(now)
}

// mayContinue is riding without the witness rule.
func (t *Tenure) mayContinue(now time.Time) bool {
	if !t.cfg.Hold || !t.healthy || !t.outageSpans() {
		return false
	}
	if !t.rideUntil.IsZero() && !now.Before(t.rideUntil) {
		// The loop did not extend the ride in time (it was frozen): the
		// kernel has dropped the addresses, and the ride is over.
		return false
	}
	return !t.apiUp || now.Before(t.apiBack.Add(t.cfg.RenewDeadline))
}

// outageSpans reports whether the last outage began while the node held
// and lasts, or lasted past the deadline the node had when it began — or
// past the end of its term (client-go ends a term a renew deadline after
// its renewals began to fail, often while the outage lasts). It does not
// look at renewals after the outage: a new term's first write is reported
// before the term itself, and must not end the ride in between.
func (t *Tenure) outageSpans() bool {
	return t.rideable && (!t.apiUp || !t.apiBack.Before(t.rideDeadline) || t.endedInOutage)
}

// MayHold answers whether the node may hold its addresses at now, until
// when at the latest, and why (not).
func (t *Tenure) MayHold(now time.Time) Verdict {
	switch {
	case !t.healthy:
		return Verdict{Why: Unhealthy}
	case t.Fresh(now):
		v := Verdict{OK: true, Until: t.Deadline(), Why: Held}
		switch {
		case t.mayRide(now) && !t.rideUntil.IsZero():
			// A ride may follow: extend its lifetime on every tick.
			v.Until = earliest(v.Until, now.Add(t.cfg.rideTick()))
		case t.cfg.Hold && now.Before(t.overdueAt()):
			// Wake when the renewal is overdue, to start extending.
			v.Until = earliest(v.Until, t.overdueAt())
		}
		return v
	case t.riding(now):
		v := Verdict{OK: true, Why: Riding}
		if t.apiUp {
			v.Until = t.apiBack.Add(t.cfg.RenewDeadline)
		}
		if !t.rideUntil.IsZero() {
			v.Until = earliest(earliest(v.Until, now.Add(t.cfg.rideTick())), t.rideUntil)
		}
		if stale := t.witnessStale(); !stale.IsZero() {
			v.Until = earliest(v.Until, stale)
		}
		return v
	case t.mayContinue(now):
		return Verdict{Why: Unwitnessed}
	case t.lastRenew.IsZero():
		return Verdict{Why: NotLeading}
	case t.cfg.Hold && t.apiUp && t.outageSpans() && !t.lastRenew.After(t.apiBack):
		return Verdict{Why: APIBackNotRenewed}
	case !t.apiUp && t.apiDown.Before(t.Deadline()):
		return Verdict{Why: APIUnreachable}
	case !t.leading:
		return Verdict{Why: NotLeading}
	}
	return Verdict{Why: DeadlinePassed}
}

// mayRide reports whether the holding may turn into a ride: the policy is
// hold, the node is healthy, and either an outage of the API server began
// while the node held by its Lease and lasts, or the node holds by its
// Lease but its renewal is overdue. The second case is the start of an
// outage that the watchdog has not confirmed yet: a hung API server is
// declared unreachable only when a request times out, close to the
// deadline, and by then the kernel would already have dropped addresses
// whose lifetime is the deadline less its lateness. Extending early is as
// safe as riding itself: a live rider yields to any takeover it hears, and
// a frozen one keeps its addresses for at most a rideStep after its last
// tick, which the next holder's probe waits out (Probe).
func (t *Tenure) mayRide(now time.Time) bool {
	if !t.cfg.Hold || !t.healthy {
		return false
	}
	return (t.rideable && !t.apiUp) || (t.Fresh(now) && !now.Before(t.overdueAt()))
}

// overdueAt is when a holder's renewal is overdue: halfway between when
// the next renewal is due (a retry period after the last one) and the
// earliest the kernel may drop an address whose lifetime was set right
// after the last renewal (its deadline less the lateness, rounded down to
// whole seconds: up to a second earlier still). Halfway leaves a slow
// renewal time to land and the loop time to extend before the kernel acts.
func (t *Tenure) overdueAt() time.Time {
	due := t.cfg.RetryPeriod
	dropped := t.cfg.rideStep() - t.cfg.Lateness - time.Second
	return t.lastRenew.Add(due + max(dropped-due, 0)/2)
}

// earliest is the earlier of a and b, where zero means never.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// Lifetime is the deadline to give the node's addresses at now, the
// instant by which the kernel must have removed them on its own if the
// loop never runs again (pkg/vip turns it into a valid_lft): the holder's
// deadline; while it rides, or may ride, through an outage, a rideStep
// from now, so the live loop extends it on each of its ticks (MayHold's
// Until) and a frozen one does not — its ride ends where the last
// extension does. ok is false when the node may not hold at all.
// Every loop that binds addresses asks Lifetime for their deadline, and
// asks again by MayHold's Until.
func (t *Tenure) Lifetime(now time.Time) (until time.Time, ok bool) {
	v := t.MayHold(now)
	if !v.OK {
		return time.Time{}, false
	}
	until = t.Deadline()
	if v.Why == Riding || (t.mayRide(now) && t.witnessed(now)) {
		until = now.Add(t.cfg.rideStep())
	}
	if until.After(t.rideUntil) {
		t.rideUntil = until
	}
	return t.rideUntil, true
}

// KeepAgainst answers a claim seen on the wire for an address this node
// holds under heldInTerm (0: none of our own writes, e.g. a claim handed
// to us or one from before a restart): keep it — and announce over the
// claimant, which is misconfigured or has a stale view — only while the
// node holds by its Lease and the address is held under the current term.
// Otherwise the node yields: it may be riding through an outage, or its
// Lease may have lapsed, and the claimant may rightly hold it now.
func (t *Tenure) KeepAgainst(now time.Time, heldInTerm uint64) bool {
	return heldInTerm != 0 && heldInTerm == t.term && t.Fresh(now)
}
