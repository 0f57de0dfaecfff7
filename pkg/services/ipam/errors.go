package ipam

import (
	"errors"
	"net/netip"
)

// Sentinels wrapped by *AllocationError; tell them apart with errors.Is.
var (
	// ErrPoolExhausted: every address of the family in the eligible pools
	// is in use.
	ErrPoolExhausted = errors.New("address pool exhausted")
	// ErrAddressInUse: the requested address is held by a Service that
	// does not share it.
	ErrAddressInUse = errors.New("address in use")
	// ErrNotInPool: the requested address is in no pool (or not in the
	// requested pool, or is an IPv4 CIDR's network or broadcast address).
	ErrNotInPool = errors.New("address not in any pool")
	// ErrPoolNotAllowed: the address or pool is reserved for other
	// namespaces.
	ErrPoolNotAllowed = errors.New("address pool not allowed for namespace")
	// ErrUnknownPool: the Service names a pool that does not exist.
	ErrUnknownPool = errors.New("unknown address pool")
	// ErrFamilyUnavailable: no pool the Service may use offers a family it
	// requires.
	ErrFamilyUnavailable = errors.New("address family unavailable")
	// ErrPortConflict: the address is shared, and a sharer already uses one
	// of the Service's ports.
	ErrPortConflict = errors.New("port conflict on shared address")
	// ErrPlacementConflict: the sharers of the address must be announced
	// from different nodes (externalTrafficPolicy or selector differ).
	ErrPlacementConflict = errors.New("placement conflict on shared address")
	// ErrExcluded: the requested address is in a pool but excluded from
	// allocation (New's exclusions: e.g. an address of this node).
	ErrExcluded = errors.New("address excluded from allocation")
	// ErrInvalidRequest: the request itself is malformed (no key, bad
	// ports, two requested addresses of one family, a requested address of
	// a family the Service does not use, …).
	ErrInvalidRequest = errors.New("invalid allocation request")
)

// ErrInvalidPool is wrapped by every pool configuration error.
var ErrInvalidPool = errors.New("invalid address pool")

// AllocationError says why an allocation failed. Its message is a sentence
// for a Warning Event on the Service.
type AllocationError struct {
	Err    error      // one of the sentinels above
	Addr   netip.Addr // the address concerned, if any
	Holder string     // the Service holding Addr, for in-use, port and placement conflicts
	Reason string     // the sentence
}

func (e *AllocationError) Error() string { return e.Reason }

func (e *AllocationError) Unwrap() error { return e.Err }
