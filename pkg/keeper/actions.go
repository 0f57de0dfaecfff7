package keeper

import (
	"context"
	"net"
	"time"

	"github.com/vipkeeper/vipkeeper/pkg/tenure"
)

// takeOver runs after winning a term: probe for a current holder, then
// bind and announce. A holder riding through an outage is already bound.
func (k *Keeper) takeOver(ctx context.Context) {
	if k.bound {
		k.log.Info("lease renewed; keeping the VIP", "vip", k.cfg.VIPs, "term", k.tenure.Term(),
			"rode_through", k.now().Sub(k.ridingSince).Round(time.Millisecond))
		k.ridingSince = time.Time{}
		k.heldTerm = k.tenure.Term()
		k.refresh(ctx)
		k.armRecheck()
		k.announce(k.cfg.VIPs)
		return
	}
	if !k.tenure.Healthy() {
		return // the candidacy is being withdrawn; the release follows
	}
	if k.deps.Guard == nil || k.cfg.ProbeWait <= 0 {
		k.bind(ctx)
		return
	}
	k.stopProbe()
	pctx, cancel := context.WithCancel(ctx)
	k.probing, k.cancelProbe = k.tenure.Term(), cancel
	go k.probe(pctx, k.tenure.Term(), k.cfg.rules())
}

// probe asks, round after round, whether another host still answers for
// the VIP — a previous holder that has not noticed it lost the lease — and
// reports to the loop when nobody does or the budget is spent. A holder
// riding through an outage yields when it sees our probe, so the second
// round usually finds the VIP free: no instant with two owners.
// It runs beside the loop and reads only its arguments (rules is the
// tenure's configuration, which decides when to stop waiting).
func (k *Keeper) probe(ctx context.Context, term uint64, rules tenure.Config) {
	start := k.now()
	var holders []net.HardwareAddr
	for {
		var err error
		holders, err = k.deps.Guard.Probe(ctx, k.cfg.VIPs, k.cfg.ProbeWait)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			k.log.Warn("probing for a current VIP holder failed; binding", "err", err)
			holders = nil
			break
		}
		if rules.Probe(start, k.now(), len(holders) > 0) != tenure.Wait {
			break
		}
		k.log.Info("VIP still answered by another host; waiting for it to yield", "macs", macs(holders))
	}
	k.send(probeDone{term: term, holders: holders})
}

func (k *Keeper) stopProbe() {
	if k.cancelProbe != nil {
		k.cancelProbe()
		k.cancelProbe = nil
	}
	k.probing = 0
}

func (k *Keeper) bind(ctx context.Context) {
	start := k.now()
	k.bound = true
	k.heldTerm = k.tenure.Term()
	// On failure the binder keeps the desired set and retries on its own
	// schedule; announce now so clients move as soon as it lands.
	added := k.setBinder(ctx, "binding VIP failed; the binder will retry")
	k.announce(k.cfg.VIPs)
	k.since = start
	k.armRecheck()
	took := k.now().Sub(start)
	k.log.Info("became leader; VIP bound", "vip", k.cfg.VIPs, "added", added, "term", k.tenure.Term(),
		"took_ms", took.Milliseconds())
	k.observe(Transition{Change: Bound, Term: k.tenure.Term(), Took: took})
}

// unbind withdraws and removes the VIP. It is also called when nothing is
// bound, to clear an earlier run's leftovers; the binder makes that cheap.
func (k *Keeper) unbind(ctx context.Context, reason Reason, detail string) {
	start := k.now()
	was := k.bound
	k.bound = false
	k.heldTerm = 0
	k.ridingSince = time.Time{}
	k.recheck.Stop()
	if was || len(k.announced) > 0 {
		k.announce(nil)
	}
	if _, err := k.deps.Binder.Set(ctx, k.wants()); err != nil {
		k.log.Error("unbinding VIP failed", "vip", k.cfg.VIPs, "reason", reason, "detail", detail, "err", err)
	}
	if was {
		took := k.now().Sub(start)
		k.log.Info("stepped down; VIP unbound", "vip", k.cfg.VIPs, "reason", reason, "detail", detail,
			"held_for", k.now().Sub(k.since).Round(time.Millisecond), "took_ms", took.Milliseconds())
		k.observe(Transition{Change: Unbound, Reason: reason, Detail: detail, Took: took})
	}
}

// check asks the tenure whether the node may still hold the VIP, and
// unbinds it if not. trigger names the event that asked (a lost term);
// without one the reason is the tenure's own (the deadline passed, the
// API server is unreachable, the ride through an outage ended).
func (k *Keeper) check(ctx context.Context, trigger Reason) {
	if !k.bound {
		return
	}
	v := k.tenure.MayHold(k.now())
	if v.OK {
		if v.Why == tenure.Riding && k.ridingSince.IsZero() {
			k.ridingSince = k.now()
			k.log.Warn("API server unreachable; holding the VIP until another node claims it", "vip", k.cfg.VIPs, "trigger", trigger)
		}
		k.refresh(ctx) // a tick of a ride extends the lifetimes
		k.armRecheck()
		return
	}
	reason, detail := reasonOf(v.Why)
	if trigger != "" {
		reason = trigger
	}
	k.unbind(ctx, reason, detail)
}

// reasonOf maps the tenure's answer onto the unbind reasons (a metrics
// label) and a human detail.
func reasonOf(w tenure.Why) (Reason, string) {
	switch w {
	case tenure.Unhealthy:
		return ReasonUnhealthy, "unhealthy"
	case tenure.NotLeading:
		return ReasonLeaseLost, "lease lost"
	case tenure.APIUnreachable:
		return ReasonAPIUnreachable, "lease not renewed in time"
	case tenure.APIBackNotRenewed:
		return ReasonAPIBack, "lease not renewed after the API server came back"
	case tenure.Unwitnessed:
		return ReasonAPIUnreachable, "lease not renewed in time, and no peer heard on the link to witness a ride"
	}
	return ReasonDeadline, "lease not renewed in time"
}

// armRecheck sets the timer to when the tenure's verdict may change by
// itself: the holder's deadline, or the end of a ride after the API
// server came back.
func (k *Keeper) armRecheck() {
	k.recheck.Stop()
	if !k.bound {
		return
	}
	if until := k.tenure.MayHold(k.now()).Until; !until.IsZero() {
		k.recheck.Reset(max(until.Sub(k.now()), 0))
	}
}
