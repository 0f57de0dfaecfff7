package keeper

import (
	"context"
	"net/netip"
	"slices"
)

type serviceEvent struct {
	addrs []netip.Addr
	done  chan struct{}
}

func (e serviceEvent) apply(ctx context.Context, k *Keeper) {
	defer close(e.done)
	k.svc = e.addrs
	k.applyServices(ctx)
}

// applyServices reconciles the binder, the announcer and the guard with
// the Service VIPs the node binds now (k.svc, while healthy); announced is
// what they had. Addresses new on this node get a takeover burst.
func (k *Keeper) applyServices(ctx context.Context) {
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
		return
	}
	if removed > 0 {
		// Stop announcing what goes before it goes.
		k.announce(nil)
	}
	if _, err := k.deps.Binder.Set(ctx, k.desired()); err != nil {
		// The binder keeps the desired set and retries on its own.
		k.log.Error("binding Service VIPs failed; the binder will retry", "err", err)
	}
	k.announce(fresh)
	k.log.Debug("Service VIPs changed", "bound", len(after), "added", len(fresh), "removed", removed)
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
