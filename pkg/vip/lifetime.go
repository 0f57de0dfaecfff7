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
// lifetime is cur (seconds left, or infiniteLifetime) must be given want
// instead: the deadline moved on, or the address must lose a lifetime
// longer than its deadline allows. The kernel reports whole seconds left,
// so a difference of one second is rounding, not a change.
func needsRefresh(cur, want uint32) bool {
	switch {
	case cur == want:
		return false
	case cur == infiniteLifetime || want == infiniteLifetime:
		return true
	}
	return want > cur || cur > want+1
}
