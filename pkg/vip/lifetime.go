package vip

import (
	"math"
	"time"
)

// Lifetime is the valid lifetime, in the kernel's whole seconds, of an
// address whose deadline is until, set at now: the time left minus the
// kernel's lateness, rounded down, so that the kernel has removed the
// address by until even when it is late. ok is false when that is less than
// one second (the kernel refuses a valid_lft of 0): the address must then
// be neither added nor refreshed, and an existing one is left to expire by
// its previous lifetime, which already ends before until. A zero until has
// no deadline: forever.
func Lifetime(until, now time.Time, lateness time.Duration) (secs uint32, ok bool) {
	if until.IsZero() {
		return infiniteLifetime, true
	}
	left := until.Sub(now) - lateness
	if left < time.Second {
		return 0, false
	}
	// Whole seconds, rounded down, below the kernel's "forever".
	return uint32(min(int64(left/time.Second), math.MaxUint32-1)), true
}

// needsRefresh reports whether an address of ours whose kernel valid
// lifetime is cur (whole seconds left, or infiniteLifetime) must be given
// want at now instead. prev is when the lifetime the binder last gave it
// ends (known false if it gave none, e.g. a leftover of an earlier run).
// The kernel's whole seconds hide up to a second: an address given 2 s
// reports 2 for its whole first second, and a refresh skipped because 2 is
// not more than 2 lets it expire a second later. So the decision compares
// exact instants: refresh when the new lifetime ends later than the last
// one, or more than a second earlier (the deadline moved back).
func needsRefresh(cur, want uint32, prev time.Time, known bool, now time.Time) bool {
	switch {
	case cur == infiniteLifetime || want == infiniteLifetime:
		return cur != want
	case !known:
		return true
	}
	next := expiryOf(now, want)
	return next.After(prev) || prev.Sub(next) > time.Second
}

// expiryOf is when a lifetime of secs seconds given at now ends; zero for
// forever.
func expiryOf(now time.Time, secs uint32) time.Time {
	if secs == infiniteLifetime {
		return time.Time{}
	}
	return now.Add(time.Duration(secs) * time.Second)
}
