// Package nsguard keeps services mode from serving in a namespace of its
// own (--services-namespace) while node Leases of an install that serves
// from the lease namespace are still there.
//
// The two could otherwise hold one address on two nodes at once: a node
// binds an address only while a claim Lease names it, and claims are
// compare-and-swap writes in one namespace; nodes claiming in two
// namespaces never see each other's claims. That happens when a DaemonSet
// that serves from the lease namespace (every install before the option
// existed) is changed to a namespace of its own by a rolling update: the
// new pods would claim in the new namespace while the old pods still claim
// in the old one.
//
// So before the controller starts — before this node takes its node
// Lease, writes a claim or binds anything — the guard lists the node
// Leases (label vipkeeper.io/role=node) in the lease namespace, with a
// quorum read, and lets the controller start only when there is none. Any
// node Lease blocks, held or released: a released Lease may belong to a
// pod that is alive but unhealthy, which would take its Lease again on
// recovery. They are gone only once the operator deleted them after the
// old pods were gone (docs/services.md, "Moving the services Leases").
// Until then the guard looks again every Config.Retry and logs what it
// waits for; the rest of the daemon (the control-plane VIP) runs as usual.
// An API error, a refusal included, counts as "not known to be clear".
package nsguard
