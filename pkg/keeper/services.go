package keeper

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/vipkeeper/vipkeeper/pkg/vip"
)

type serviceEvent struct {
	addrs []netip.Addr
	until time.Time
	done  chan struct{}
}

func (e serviceEvent) apply(ctx context.Context, k *Keeper) {
	defer close(e.done)
	k.svc = e.addrs
	moved := !e.until.Equal(k.svcUntil)
	k.svcUntil = e.until
	if !k.applyServices(ctx) && moved && len(k.serviceVIPs()) > 0 {
		// The same addresses with a later deadline: refresh their
		// lifetimes only.
		k.setBinder(ctx, "refreshing Service VIPs failed; the binder will retry")
	}
}

// applyServices reconciles the binder, the announcer and the guard with
// the Service VIPs the node binds now (k.svc, while healthy); announced is
// what they had. Addresses new on this node get a takeover burst. It
// reports whether the set changed (and the binder was set).
func (k *Keeper) applyServices(ctx context.Context) bool {
	before := k.announcedServices()
	after := k.serviceVIPs()
	var fresh []netip.Addr
	for _, a := range after {
		if !slices.Contains(before, a) {
			fresh = append(fresh, a)
		}
	}
	removed := len(before) + len(fresh) - len(after)
	if len(fresh) == 0 && removed == 0 {
		return false
	}
	if removed > 0 {
		// Stop announcing what goes before it goes.
		k.announce(nil)
	}
	// The binder keeps the desired set and retries on its own.
	k.setBinder(ctx, "binding Service VIPs failed; the binder will retry")
	k.announce(fresh)
	k.log.Debug("Service VIPs changed", "bound", len(after), "added", len(fresh), "removed", removed)
	return true
}

// setBinder hands the binder the desired addresses with their deadlines
// now, logging failures with msg.
func (k *Keeper) setBinder(ctx context.Context, msg string) []netip.Addr {
	added, err := k.deps.Binder.Set(ctx, k.wants())
	if err != nil {
		k.log.Error(msg, "vip", k.cfg.VIPs, "err", err)
	}
	return added
}

// refresh hands the binder the lifetimes the tenure gives now, if the node
// holds anything: after a renewal, and on every tick of a ride.
func (k *Keeper) refresh(ctx context.Context) {
	if k.bound || len(k.serviceVIPs()) > 0 {
		k.setBinder(ctx, "refreshing VIP lifetimes failed; the binder will retry")
	}
}

// wants is desired with deadlines: the control-plane VIPs' from their
// Lease (the tenure), the Service VIPs' from the node Lease. A deadline
// the tenure cannot give (the node may not hold) is now: the binder then
// neither adds nor refreshes the address, and the kernel drops it by its
// last lifetime.
func (k *Keeper) wants() []vip.Want {
	now := k.now()
	var cp time.Time
	if k.bound {
		var ok bool
		if cp, ok = k.tenure.Lifetime(now); !ok {
			cp = now
		}
	}
	svc := k.svcUntil
	if svc.IsZero() {
		svc = now // never forever: a caller without a deadline gets no lifetime
	}
	desired := k.desired()
	published := [2]time.Time{cp, svc}
	if len(k.serviceVIPs()) == 0 {
		published[1] = time.Time{}
	}
	k.deadlines.Store(&published)
	out := make([]vip.Want, len(desired))
	for i, a := range desired {
		until := svc
		if k.bound && slices.Contains(k.cfg.VIPs, a) {
			until = cp
		}
		out[i] = vip.Want{Addr: a, Until: until}
	}
	return out
}

// announcedServices is the Service VIPs in the announced set.
func (k *Keeper) announcedServices() []netip.Addr {
	var out []netip.Addr
	for _, a := range k.announced {
		if !k.bound || !slices.Contains(k.cfg.VIPs, a) {
			out = append(out, a)
		}
	}
	return out
}

// serviceVIPs is the Service VIPs the node binds: those the controller
// asked for, while the node is healthy (its local API server's check
// does not count: it gates the control-plane VIP alone).
func (k *Keeper) serviceVIPs() []netip.Addr {
	if !k.standing.healthy {
		return nil
	}
	return k.svc
}

// desired is every address the binder must hold: the control-plane VIPs
// while we hold them, and the Service VIPs.
func (k *Keeper) desired() []netip.Addr {
	svc := k.serviceVIPs()
	if !k.bound {
		return slices.Clone(svc)
	}
	out := make([]netip.Addr, 0, len(k.cfg.VIPs)+len(svc))
	out = append(out, k.cfg.VIPs...)
	for _, a := range svc {
		if !slices.Contains(k.cfg.VIPs, a) {
			out = append(out, a)
		}
	}
	return out
}

// announce hands the announcer and the guard the desired set; fresh get
// a takeover burst.
func (k *Keeper) announce(fresh []netip.Addr) {
	all := k.desired()
	k.announced = all
	k.deps.Announcer.Announce(all, fresh)
	if k.deps.Guard != nil {
		k.deps.Guard.Watch(all)
	}
}

// setCandidate joins or leaves the control-plane election, if there is one.
func (k *Keeper) setCandidate(ok bool) {
	if len(k.cfg.VIPs) > 0 && k.deps.Election != nil {
		k.deps.Election.SetCandidate(ok)
	}
}
