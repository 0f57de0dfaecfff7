package keeper

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/vipkeeper/vipkeeper/pkg/election"
	"github.com/vipkeeper/vipkeeper/pkg/tenure"
)

// event is one input of the loop; apply runs on the loop goroutine.
type event interface {
	apply(ctx context.Context, k *Keeper)
}

type electionEvent election.Event

func (e electionEvent) apply(ctx context.Context, k *Keeper) {
	if e.Kind == election.Leader {
		k.leaderSeen(ctx, e.Identity)
		return
	}
	switch k.tenure.Election(election.Event(e)) {
	case tenure.Began:
		k.setLeading(true)
		k.takeOver(ctx)
	case tenure.Ended:
		k.setLeading(false)
		k.stopProbe()
		if k.bound {
			k.check(ctx, ReasonLeaseLost)
		}
	case tenure.Renewed:
		k.armRecheck()
		if k.tenure.Leading() && !k.ridingSince.IsZero() {
			k.log.Info("lease renewed; no longer riding through", "rode_through", k.now().Sub(k.ridingSince).Round(time.Millisecond))
			k.ridingSince = time.Time{}
		}
	}
}

// leaderSeen: the election reports who holds the Lease. A node that holds
// the VIP without leading (riding through an outage) gives it up as soon
// as another node is seen holding the Lease.
func (k *Keeper) leaderSeen(ctx context.Context, identity string) {
	if identity == k.leader {
		return
	}
	k.leader = identity
	k.log.Info("leader observed", "leader", identity)
	if k.bound && !k.tenure.Leading() && identity != "" && identity != k.cfg.Identity {
		k.unbind(ctx, ReasonOtherLeader, "another node holds the lease: "+identity)
	}
}

type healthEvent struct {
	healthy bool
	reason  string
}

func (e healthEvent) apply(ctx context.Context, k *Keeper) {
	if k.standing.healthy == e.healthy {
		return
	}
	was := k.standing
	k.standing.healthy, k.standing.healthReason = e.healthy, e.reason
	if e.healthy {
		k.log.Info("healthy")
	} else {
		k.log.Warn("unhealthy", "reason", e.reason)
	}
	k.stand(ctx, was)
}

// apiServerEvent is the check of this node's own API server.
type apiServerEvent struct {
	ready  bool
	reason string
}

func (e apiServerEvent) apply(ctx context.Context, k *Keeper) {
	if !k.cfg.CheckAPIServer || k.standing.apiReady == e.ready {
		return
	}
	was := k.standing
	k.standing.apiReady, k.standing.apiReason = e.ready, e.reason
	k.stand(ctx, was)
}

// stand acts on a change of the node's standing (was is the one before):
// a node that turns candidate campaigns; one that stops being candidate
// steps down at once — withdraws and unbinds the control-plane VIP, then
// leaves the election, which releases the Lease if it holds it. Service
// VIPs follow the node's health alone.
func (k *Keeper) stand(ctx context.Context, was standing) {
	before, _, _ := was.candidate()
	now, reason, detail := k.standing.candidate()
	k.tenure.SetHealthy(now)
	switch {
	case now && !before:
		k.log.Info("candidate for the VIP; campaigning")
		k.setCandidate(true)
	case !now && before:
		k.log.Warn("no longer a candidate for the VIP; stepping down", "reason", reason, "detail", detail)
		k.stopProbe()
		k.unbind(ctx, reason, detail) // Service VIPs too if unhealthy: desired() holds none then
		k.setCandidate(false)         // releases the lease if we hold it
	}
	if was.healthy != k.standing.healthy {
		k.applyServices(ctx) // the Service VIPs the controller asked for, or none
	}
}

type apiEvent bool

func (e apiEvent) apply(ctx context.Context, k *Keeper) {
	k.tenure.SetAPI(bool(e), k.now())
	if k.bound {
		// Back: a holder riding through may keep the VIP for a renew
		// deadline, to renew. Gone: the ride may begin (or, with policy
		// release, nothing changes before the deadline).
		k.check(ctx, "")
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
	if k.tenure.KeepAgainst(k.now(), k.heldTerm) {
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
	if !k.tenure.Leading() || k.tenure.Term() != e.term || k.bound {
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

type pingEvent chan struct{}

func (e pingEvent) apply(context.Context, *Keeper) { close(e) }
