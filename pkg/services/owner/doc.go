// Package owner decides which node announces each Service address and
// which node runs the allocator, and what this node must do about it.
//
// It is pure: no Kubernetes client, no clock, no goroutines, no logging.
// The caller turns its informer caches into a freshness map and one [Item]
// per claim key, calls [Decide], and carries out each [Decision]: Bind,
// Take (a compare-and-swap on the claim's resourceVersion, or a Create),
// Handoff (unbind first, then write the claim), Delete (unbind first, then
// delete the claim).
//
// The rules are those of docs/services.md, "Ownership: which node
// announces an address":
//
//   - The eligible nodes of a key are the fresh nodes, or for a Restricted
//     key (externalTrafficPolicy: Local) the fresh nodes among Eligible.
//   - Ownership is sticky: a claim holder that is still eligible stays the
//     owner. Otherwise the owner is the eligible node with the highest
//     rendezvous hash [Score] (ties: the smaller name), or nobody.
//   - Only the holder binds, and only while it is fresh and the owner; a
//     holder that should not own the key hands it off (unbind, then write).
//   - A node takes a claim only if it is the owner by its own view and the
//     claim names nobody or a node that is not fresh.
//   - A claim of a key that is no longer wanted is deleted by its holder,
//     or, if its holder is gone, by one "janitor": the fresh node with the
//     highest Score for the key.
//
// [Score] must never change between versions: every node of a cluster,
// whatever its version, has to compute the same owner.
package owner
