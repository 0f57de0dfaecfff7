// Package keeper is the loop that owns the node's state for the
// control-plane VIP. Everything reaches it as an event through its Inbox:
// election events, health and API reachability, claims seen on the wire,
// the binder's restore notices, the Service VIPs the services controller
// may bind, and shutdown. It alone decides to bind and announce the VIP
// (after winning, and after a pre-bind probe) or to withdraw and unbind
// it (after losing, and before the lease is released on shutdown).
//
// Whether the node may hold the VIP — its term, its own deadline, riding
// through an API outage, yielding to a claim on the wire, the probe budget
// — is decided by pkg/tenure, the same rules the services controller
// applies to Service VIPs. The keeper adds its own: the candidacy for the
// control-plane VIP (the node healthy and, with --api-server-check, its
// own API server ready; the tenure is told that as the node's health,
// while Service VIPs follow health alone), a recheck timer armed to the
// tenure's next change (the holder's deadline, the end of a ride),
// unbinding when another node is seen holding the Lease, and the order of
// shutdown.
//
// Files, in the loop's order: keeper.go (the types, New and Start),
// inbox.go and events.go (its inputs), candidacy.go (who may campaign),
// actions.go and services.go (what
// it does: probe, bind, unbind, announce), observe.go (the transitions it
// reports).
package keeper
