// Package ipam hands out LoadBalancer addresses from named pools.
//
// It is pure: no Kubernetes client, no network, no logging. The services
// controller parses pools from configuration ([ParsePool], [PoolSpec]),
// builds an [Allocator] with [New], turns each Service into a [Request]
// ([RequestForService]) and calls [Allocator.Allocate], [Allocator.Release]
// and, when it rebuilds its state from Service statuses after a restart,
// [Allocator.Restore].
//
// # Pools
//
// A pool has a name, one or more address items and optionally the
// namespaces that may use it. An item is a CIDR ("192.0.2.0/28",
// "2001:db8:1::/120") or an inclusive range ("198.51.100.10-198.51.100.20",
// "2001:db8::10-2001:db8::1f") of one family. The network and broadcast
// addresses of an IPv4 CIDR shorter than /31 are never handed out (hosts on
// the segment treat them as the subnet itself and as broadcast); /31 and /32
// are used whole (RFC 3021). Ranges and IPv6 CIDRs are used whole, exactly
// as written. Items that overlap — within a pool or across pools — are
// refused, and so are items that touch loopback, link-local, multicast,
// unspecified or other reserved blocks.
//
// # Exclusions
//
// Some addresses inside a valid pool must still never be handed out: the
// IPv4-compatible IPv6 block ::/96 (always), and what the node's own
// addresses rule out, which [HostExclusions] computes and [New] takes:
// the node's addresses themselves, a connected IPv4 subnet's network and
// broadcast addresses, and a connected IPv6 subnet's subnet-router anycast
// address. They are skipped, not refused, so a pool that covers the
// node's subnet stays usable; [Allocator.Exclusions] lists them for a
// Warning, and a request that names one fails with [ErrExcluded]. An
// address a Service already holds is kept ([Allocator.Restore]), so an
// exclusion never takes a working address away; [Allocator.Excluded] tells
// the caller to warn about it.
//
// # Allocation
//
// Allocation is deterministic: an address picked for a Service without a
// requested address is the lowest address that is free (or, with a sharing
// key, shareable) in the first eligible pool, in configuration order. The
// result depends only on which addresses are in use, not on the history, so
// a controller that rebuilt its state after a restart picks what one that
// never restarted would have picked. Allocation never materialises a pool:
// each item keeps a high-water mark and a heap of released addresses below
// it, so an allocation costs O(log n) amortised even in a /64.
//
// A failed Allocate or Restore changes nothing (dual stack is
// all-or-nothing). Calling Allocate again for a Service that already holds
// addresses keeps every address that still satisfies the request, so
// repeating a request is idempotent.
//
// # Sharing
//
// Two Services may hold the same address only if both carry the same
// non-empty sharing key (annotation vipkeeper.io/allow-shared-ip), their
// ports do not collide (same protocol and port), and they must be announced
// from the same nodes (same [Request.Placement]: both externalTrafficPolicy
// Cluster, or both Local with the same selector).
//
// # Errors
//
// Allocation failures are *[AllocationError] values whose message is a
// sentence fit for a Warning Event ("198.51.100.7 is already used by
// default/web and they do not share a key") and which wrap one of the
// sentinels [ErrPoolExhausted], [ErrAddressInUse], [ErrNotInPool],
// [ErrPoolNotAllowed], [ErrUnknownPool], [ErrFamilyUnavailable],
// [ErrPortConflict], [ErrPlacementConflict], [ErrExcluded] or [ErrInvalidRequest]; test
// them with errors.Is. Pool configuration errors wrap [ErrInvalidPool] and
// name the pool and the item.
package ipam
