package keeper

import (
	"net/netip"
	"time"
)

// Reason says why the VIP was unbound. The values are a small fixed set,
// fit for a metrics label; the human detail travels beside it.
type Reason string

// Reasons for unbinding the VIP.
const (
	ReasonStartup         Reason = "startup"          // clearing an earlier run's leftovers
	ReasonShutdown        Reason = "shutdown"         // the process is stopping
	ReasonElectionStopped Reason = "election_stopped" // the election ended by itself (a broken configuration)
	ReasonLeaseLost       Reason = "lease_lost"       // client-go ended our term
	ReasonDeadline        Reason = "deadline"         // our own safety deadline passed without a renewal
	ReasonAPIUnreachable  Reason = "api_unreachable"  // the deadline passed while the API server was unreachable
	ReasonAPIBack         Reason = "api_back_not_renewed"
	ReasonOtherLeader     Reason = "other_leader" // another node holds the lease
	ReasonUnhealthy       Reason = "unhealthy"    // a health check failed or the link is down
	ReasonClaimed         Reason = "claimed"      // another host claimed the VIP on the wire
	// ReasonAPIServerNotReady: this node's own API server failed its
	// check (--api-server-check).
	ReasonAPIServerNotReady Reason = "api_server_not_ready"
)

// Reasons lists every Reason, so that a metric can start each at zero.
func Reasons() []Reason {
	return []Reason{ReasonStartup, ReasonShutdown, ReasonElectionStopped, ReasonLeaseLost, ReasonDeadline,
		ReasonAPIUnreachable, ReasonAPIBack, ReasonOtherLeader, ReasonUnhealthy, ReasonClaimed, ReasonAPIServerNotReady}
}

// Change is the kind of a Transition.
type Change int

// Changes the loop reports.
const (
	// Acquired: this node started leading.
	Acquired Change = iota + 1
	// Lost: this node stopped leading (the term ended, the lease was
	// released, or the process is stopping).
	Lost
	// Bound: the VIP was bound and the first announcement sent.
	Bound
	// Unbound: the VIP was withdrawn and removed; Reason says why.
	Unbound
	// Restored: the binder re-added the VIP after someone removed it.
	Restored
)

func (c Change) String() string {
	switch c {
	case Acquired:
		return "acquired"
	case Lost:
		return "lost"
	case Bound:
		return "bound"
	case Unbound:
		return "unbound"
	case Restored:
		return "restored"
	}
	return "unknown"
}

// Transition is one change of the node's state, as the loop decided it.
type Transition struct {
	Change Change
	At     time.Time
	VIPs   []netip.Addr // the configured VIPs (Restored: the one re-added)
	Term   uint64       // the election term, for Acquired and Lost
	Reason Reason       // for Unbound
	Detail string       // for Unbound: the human reason, e.g. "link down"; may be ""
	Took   time.Duration
}

// Observer is told about every transition. It is called on the loop's
// goroutine and must return at once (update a metric, queue an Event).
type Observer interface {
	Observe(Transition)
}

// Observers tells each of its members, in order.
type Observers []Observer

// Observe implements Observer.
func (o Observers) Observe(t Transition) {
	for _, x := range o {
		if x != nil {
			x.Observe(t)
		}
	}
}

func (k *Keeper) observe(t Transition) {
	if k.deps.Observer == nil {
		return
	}
	if t.At.IsZero() {
		t.At = k.now()
	}
	if t.VIPs == nil {
		t.VIPs = k.cfg.VIPs
	}
	k.deps.Observer.Observe(t)
}

// setLeading records a change of leadership and reports it.
func (k *Keeper) setLeading(leading bool) {
	if k.acquired == leading {
		return
	}
	k.acquired = leading
	if leading {
		k.observe(Transition{Change: Acquired, Term: k.tenure.Term()})
	} else {
		k.observe(Transition{Change: Lost, Term: k.tenure.Term()})
	}
}
