package keeper

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/vipkeeper/vipkeeper/pkg/election"
)

// event is one input of the loop; apply runs on the loop goroutine.
type event interface {
	apply(ctx context.Context, k *Keeper)
}

type electionEvent election.Event

func (e electionEvent) apply(ctx context.Context, k *Keeper) {
	switch e.Kind {
	case election.Elected:
		if e.Term <= k.lostUpTo {
			k.log.Debug("ignoring election of an ended term", "term", e.Term)
			return
		}
		// Terms run one after another: a new term means every earlier
		// one has ended, even if its Lost is still on its way.
		k.lostUpTo = max(k.lostUpTo, e.Term-1)
		k.term = e.Term
		k.setLeading(true)
		k.grace.Stop()
		k.takeOver(ctx)
	case election.Lost:
		k.lostUpTo = max(k.lostUpTo, e.Term)
		if !k.leading || k.term > e.Term {
			return
		}
		k.setLeading(false)
		k.stopProbe()
		if k.bound {
			k.maybeRide(ctx, ReasonLeaseLost, "lease lost")
		}
	case election.Renewed:
		if e.At.After(k.lastRenew) {
			k.lastRenew = e.At
			k.armDeadline()
		}
		if k.leading && !k.ridingSince.IsZero() {
			k.log.Info("lease renewed; no longer riding through", "rode_through", k.now().Sub(k.ridingSince).Round(time.Millisecond))
			k.ridingSince = time.Time{}
		}
	case election.Leader:
		if e.Identity == k.leader {
			return
		}
		k.leader = e.Identity
		k.log.Info("leader observed", "leader", e.Identity)
		if k.bound && !k.leading && e.Identity != "" && e.Identity != k.cfg.Identity {
			k.unbind(ctx, ReasonOtherLeader, "another node holds the lease: "+e.Identity)
		}
	}
}

type healthEvent struct {
	healthy bool
	reason  string
}

func (e healthEvent) apply(ctx context.Context, k *Keeper) {
	if e.healthy == k.healthy {
		return
	}
	k.healthy = e.healthy
	if e.healthy {
		k.log.Info("healthy; campaigning")
		k.setCandidate(true)
		k.applyServices(ctx) // the Service VIPs the controller asked for
		return
	}
	k.log.Warn("unhealthy; stepping down", "reason", e.reason)
	k.stopProbe()
	k.unbind(ctx, ReasonUnhealthy, e.reason) // Service VIPs too: desired() is empty now
	k.setCandidate(false)                    // releases the lease if we hold it
}

type apiEvent bool

func (e apiEvent) apply(ctx context.Context, k *Keeper) {
	k.apiUp = bool(e)
	if k.apiUp && k.bound && !k.leading {
		// Riding through: the API is back, so the lease decides again.
		// Our own record lets us renew at once; if we cannot, another
		// node may have it.
		k.grace.Reset(k.cfg.RenewDeadline)
	}
	if !k.apiUp && k.bound && k.pastDeadline() {
		k.maybeRide(ctx, ReasonDeadline, "lease expiring")
	}
}

type claimEvent struct {
	addr netip.Addr
	mac  net.HardwareAddr
	kind string
}

func (e claimEvent) apply(ctx context.Context, k *Keeper) {
	if !k.bound {
		return
	}
	if k.leading && !k.pastDeadline() {
		// Our lease is valid: the claimant is wrong (a misconfigured
		// host, or a peer with a stale view). Win the caches back.
		k.log.Warn("another host claims the VIP while we hold a valid lease; announcing", "vip", e.addr, "mac", e.mac.String(), "kind", e.kind)
		k.announce(k.cfg.VIPs)
		return
	}
	k.unbind(ctx, ReasonClaimed, "claimed by "+e.mac.String())
}

type restoredEvent netip.Addr

func (e restoredEvent) apply(_ context.Context, k *Keeper) {
	addr := netip.Addr(e)
	switch {
	case k.bound && slices.Contains(k.cfg.VIPs, addr):
		k.log.Info("VIP restored after external removal; announcing", "vip", addr)
		k.observe(Transition{Change: Restored, VIPs: []netip.Addr{addr}})
		k.announce(k.cfg.VIPs)
	case slices.Contains(k.serviceVIPs(), addr):
		k.log.Info("Service VIP restored after external removal; announcing", "vip", addr)
		k.announce([]netip.Addr{addr})
	}
}

// probeDone ends a pre-bind probe.
type probeDone struct {
	term    uint64
	holders []net.HardwareAddr // who still answered in the last round
}

func (e probeDone) apply(ctx context.Context, k *Keeper) {
	if k.probing != e.term {
		return // superseded
	}
	k.probing = 0
	if !k.leading || k.term != e.term || k.bound {
		return
	}
	if len(e.holders) > 0 {
		k.log.Warn("VIP still answered by another host after the probe budget; taking it anyway", "macs", macs(e.holders))
	}
	k.bind(ctx)
}

func macs(hw []net.HardwareAddr) []string {
	s := make([]string, len(hw))
	for i, m := range hw {
		s[i] = m.String()
	}
	return s
}
