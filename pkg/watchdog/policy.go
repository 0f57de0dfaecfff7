package watchdog

// state is what the policy remembers between probes.
type state struct {
	reachable bool
	failures  int // consecutive failed probes
}

// change is a change of reachability.
type change int

const (
	noChange change = iota
	wentDown
	cameBack
)

// action is what the daemon does after one probe.
type action struct {
	change   change
	failover bool // leave the API server in use
	heal     bool // drop idle connections, restart the watches, campaign
}

// decide is the outage policy: given the state before a probe and whether
// the probe succeeded, the state after it and what to do. A success heals
// after an outage. The failAfter-th failure in a row makes the API
// unreachable and fails over; every further failAfter failures fail over
// again.
func decide(s state, ok bool, failAfter int) (state, action) {
	if ok {
		was := s.reachable
		s = state{reachable: true}
		if !was {
			return s, action{change: cameBack, heal: true}
		}
		return s, action{}
	}
	s.failures++
	switch {
	case s.reachable && s.failures >= failAfter:
		s.reachable = false
		return s, action{change: wentDown, failover: true}
	case !s.reachable && s.failures%failAfter == 0:
		return s, action{failover: true}
	}
	return s, action{}
}

// Reactions are what the daemon does about the API server's reachability;
// decide says when.
type Reactions struct {
	// Conns are the daemon's API connections (kube.Conn); nil does
	// nothing.
	Conns conns
	// Elections are the Lease campaigns to restart after an outage (the
	// control-plane Lease, the node Lease).
	Elections []Campaign
	// Report is told every change of reachability, in order, after the
	// connections and the elections have been dealt with.
	Report []func(up bool)
}

// conns are the API connections: kube.Conn.
type conns interface {
	Failover()
	CloseIdleConnections()
}

// Campaign is a Lease election to restart after an outage:
// election.Elector.
type Campaign interface {
	// Blind says the API server is unreachable: the election's silent
	// watch proves nothing until it comes back.
	Blind()
	// Reconnect restarts the Lease watch.
	Reconnect()
	// Kick campaigns now rather than at the next retry.
	Kick()
}

// do performs a: blind the elections when the API went away; heal
// (connections first, so the restarted watches and campaigns dial
// afresh); fail over; then report.
func (r Reactions) do(a action) {
	if a.change == wentDown {
		for _, e := range r.Elections {
			e.Blind()
		}
	}
	if a.heal {
		if r.Conns != nil {
			r.Conns.CloseIdleConnections()
		}
		for _, e := range r.Elections {
			e.Reconnect()
			e.Kick()
		}
	}
	if a.failover && r.Conns != nil {
		r.Conns.Failover()
	}
	if a.change == noChange {
		return
	}
	for _, report := range r.Report {
		report(a.change == cameBack)
	}
}
