package announce

import (
	"net/netip"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/ether"
)

// burst is the takeover burst of one address.
type burst struct {
	left int       // rounds still to send
	due  time.Time // when the next of them is due
}

// updateLocked makes set (normalized) the announced set at now and starts a
// burst for the members of set that are in fresh. It returns those members,
// in set order: they make up the round Announce sends at once. a.mu must be
// held.
func (a *Announcer) updateLocked(set, fresh []netip.Addr, now time.Time) []netip.Addr {
	members := make(map[netip.Addr]struct{}, len(set))
	for _, ip := range set {
		members[ip] = struct{}{}
	}
	for ip := range a.bursts {
		if _, ok := members[ip]; !ok {
			delete(a.bursts, ip)
		}
	}

	isFresh := make(map[netip.Addr]struct{}, len(fresh))
	for _, ip := range fresh {
		isFresh[ether.Canonical(ip)] = struct{}{}
	}
	var first []netip.Addr
	for _, ip := range set {
		if _, ok := isFresh[ip]; !ok {
			continue
		}
		first = append(first, ip)
		if a.cfg.BurstCount > 1 {
			a.bursts[ip] = burst{left: a.cfg.BurstCount - 1, due: now.Add(a.cfg.BurstInterval)}
		} else {
			delete(a.bursts, ip)
		}
	}

	a.addrs = set
	if len(first) == len(set) || a.refreshDue.IsZero() {
		// The first round covers the whole set, or nothing was announced
		// before: the refresh period starts now.
		a.refreshDue = a.refreshAfter(now)
	}
	a.rescheduleLocked()
	return first
}

// sendDue sends the round that is due, if any, and schedules the next.
// A round sends the addresses whose burst round is due, and the rest of the
// set too when the refresh is due; each address at most once.
func (a *Announcer) sendDue() {
	a.sendMu.Lock()
	defer a.sendMu.Unlock()

	now := time.Now()
	a.mu.Lock()
	if a.due.IsZero() || now.Before(a.due) || len(a.addrs) == 0 {
		// Rescheduled or withdrawn while the timer fired.
		a.mu.Unlock()
		return
	}
	refresh := !a.refreshDue.IsZero() && !now.Before(a.refreshDue)
	var bursting, rest []netip.Addr
	for _, ip := range a.addrs {
		b, ok := a.bursts[ip]
		switch {
		case ok && !now.Before(b.due):
			bursting = append(bursting, ip)
			if b.left--; b.left > 0 {
				b.due = now.Add(a.cfg.BurstInterval)
				a.bursts[ip] = b
			} else {
				delete(a.bursts, ip)
			}
		case refresh:
			rest = append(rest, ip)
		}
	}
	if refresh || len(bursting) == len(a.addrs) {
		// This round covers the whole set.
		a.refreshDue = a.refreshAfter(now)
	}
	a.rescheduleLocked()
	a.mu.Unlock()

	a.sendRound(bursting, rest)
}

// rescheduleLocked sets a.due to the earliest pending round. a.mu must be
// held.
func (a *Announcer) rescheduleLocked() {
	a.due = a.refreshDue
	for _, b := range a.bursts {
		if a.due.IsZero() || b.due.Before(a.due) {
			a.due = b.due
		}
	}
}

// refreshAfter returns when the whole set is next due after a round that
// covered it at now; zero if refreshes are disabled.
func (a *Announcer) refreshAfter(now time.Time) time.Time {
	if a.cfg.RefreshInterval <= 0 {
		return time.Time{}
	}
	return now.Add(a.cfg.RefreshInterval)
}
