package keeper

import (
	"context"
	"net"
	"time"
)

// takeOver runs after winning a term: probe for a current holder, then
// bind and announce. A holder riding through an outage is already bound.
func (k *Keeper) takeOver(ctx context.Context) {
	if k.bound {
		k.log.Info("lease renewed; keeping the VIP", "vip", k.cfg.VIPs, "term", k.term,
			"rode_through", k.now().Sub(k.ridingSince).Round(time.Millisecond))
		k.ridingSince = time.Time{}
		k.armDeadline()
		k.announce(k.cfg.VIPs)
		return
	}
	if !k.healthy {
		return // the candidacy is being withdrawn; the release follows
	}
	if k.deps.Guard == nil || k.cfg.ProbeWait <= 0 {
		k.bind(ctx)
		return
	}
	k.stopProbe()
	pctx, cancel := context.WithCancel(ctx)
	k.probing, k.cancelProbe = k.term, cancel
	go k.probe(pctx, k.term)
}

// probe asks, round after round, whether another host still answers for
// the VIP — a previous holder that has not noticed it lost the lease — and
// reports to the loop when nobody does or the budget is spent. A holder
// riding through an outage yields when it sees our probe, so the second
// round usually finds the VIP free: no instant with two owners.
func (k *Keeper) probe(ctx context.Context, term uint64) {
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
		if len(holders) == 0 || k.now().Sub(start) >= k.cfg.ProbeBudget {
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
	added, err := k.deps.Binder.Set(ctx, k.desired())
	if err != nil {
		// The binder keeps the desired set and retries on its own
		// schedule; announce now so clients move as soon as it lands.
		k.log.Error("binding VIP failed; the binder will retry", "vip", k.cfg.VIPs, "err", err)
	}
	k.announce(k.cfg.VIPs)
	k.since = start
	k.armDeadline()
	took := k.now().Sub(start)
	k.log.Info("became leader; VIP bound", "vip", k.cfg.VIPs, "added", added, "term", k.term,
		"took_ms", took.Milliseconds())
	k.observe(Transition{Change: Bound, Term: k.term, Took: took})
}

// unbind withdraws and removes the VIP. It is also called when nothing is
// bound, to clear an earlier run's leftovers; the binder makes that cheap.
func (k *Keeper) unbind(ctx context.Context, reason Reason, detail string) {
	start := k.now()
	was := k.bound
	k.bound = false
	k.ridingSince = time.Time{}
	k.deadline.Stop()
	k.grace.Stop()
	if was || len(k.announced) > 0 {
		k.announce(nil)
	}
	if _, err := k.deps.Binder.Set(ctx, k.desired()); err != nil {
		k.log.Error("unbinding VIP failed", "vip", k.cfg.VIPs, "reason", reason, "detail", detail, "err", err)
	}
	if was {
		took := k.now().Sub(start)
		k.log.Info("stepped down; VIP unbound", "vip", k.cfg.VIPs, "reason", reason, "detail", detail,
			"held_for", k.now().Sub(k.since).Round(time.Millisecond), "took_ms", took.Milliseconds())
		k.observe(Transition{Change: Unbound, Reason: reason, Detail: detail, Took: took})
	}
}

// maybeRide decides what a holder does when its lease may be gone: ride
// through an API outage (policy hold, API unreachable from here), or drop
// the VIP.
func (k *Keeper) maybeRide(ctx context.Context, reason Reason, detail string) {
	if k.cfg.OnOutage == Hold && !k.apiUp {
		if k.ridingSince.IsZero() {
			k.ridingSince = k.now()
			k.log.Warn("API server unreachable; holding the VIP until another node claims it", "vip", k.cfg.VIPs, "reason", reason, "detail", detail)
		}
		return
	}
	if reason == ReasonDeadline && !k.apiUp {
		reason = ReasonAPIUnreachable
	}
	k.unbind(ctx, reason, detail)
}

// deadline is when the holder's own safety deadline passes.
func (k *Keeper) deadlineAt() time.Time {
	return k.lastRenew.Add(k.cfg.LeaseDuration - k.cfg.SafetyMargin)
}

func (k *Keeper) pastDeadline() bool { return !k.now().Before(k.deadlineAt()) }

func (k *Keeper) armDeadline() {
	k.deadline.Stop()
	if k.bound && !k.lastRenew.IsZero() {
		k.deadline.Reset(max(k.deadlineAt().Sub(k.now()), 0))
	}
}

// onDeadline: no renewal of ours succeeded for LeaseDuration −
// SafetyMargin. A follower may judge the lease expired soon, whatever
// client-go still believes.
func (k *Keeper) onDeadline(ctx context.Context) {
	if !k.bound || !k.pastDeadline() {
		return
	}
	k.maybeRide(ctx, ReasonDeadline, "lease not renewed in time")
}
