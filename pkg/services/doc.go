// Package services serves Kubernetes Services of type LoadBalancer: it
// gives them addresses from the configured pools, writes their status, and
// has each address announced by exactly one healthy node.
//
// Every node runs one Controller. Its one loop (Start) owns the node's
// view: the Services and EndpointSlices (informers), the node Leases of
// every node and the claim Leases (an informer over our own Leases), this
// node's own node Lease (pkg/election, reported through the Inbox), its
// health, the API server's reachability and claims seen on the wire. After
// each batch of events the loop runs one pass:
//
//   - decide (pure): which addresses this node binds, probes, takes,
//     hands over or deletes, which other nodes' Leases to read at quorum
//     before taking from them, and whether it runs the allocator role. Who
//     should announce an address is the pure owner function
//     (pkg/services/owner); whether this node may hold anything at all —
//     its node-Lease term, its own deadline, riding through an API outage,
//     yielding to a claim on the wire, the probe budget — is pkg/tenure,
//     the same rules the keeper applies to the control-plane VIP.
//   - apply: hands the binder (the keeper, which owns the one binder) the
//     new set and waits until it holds exactly that; only then writes the
//     claims that give addresses away, then those that take them; starts
//     the quorum reads and the pre-bind probe; runs the allocator.
//
// Rules of its own, beside the tenure's: a claim written by us in an
// earlier node-Lease term stays bound provisionally while it is written
// again, and yields to any host that claims it on the wire; a claim is
// taken from a node whose Lease looks expired only after a quorum read
// confirms it unchanged (a lagging watch must not take from a live node);
// after an API outage every other node's clock restarts, and the
// informers are rebuilt.
//
// With Config.PoolObjects the pools come from the AddressPool objects
// (pkg/services/pools), watched by a fourth informer: a change is read
// before the next pass, and the allocator is rebuilt from the statuses
// (poolobjects.go); a pool's nodeSelector and preferredNodes become the
// owner function's eligible and preferred nodes, from Node labels every
// node watches (placement.go). Who announces what is the claim Lease
// itself, plus an Event per move on a client of its own (announce.go).
//
// Every write is a compare-and-swap on the resourceVersion we saw, and
// runs in the background, at most Config.Writers at once; its result
// comes back to the loop as an event. docs/services.md has the design and
// the safety argument.
package services
