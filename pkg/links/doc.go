// Package links runs the data plane on every interface the node announces
// addresses on, and sends each address to its interface.
//
// A node binds its control-plane VIPs and most Service VIPs on its one
// --interface, but an AddressPool may name another link (a storage NIC, a
// second VLAN): its addresses are bound, announced, guarded and probed
// there. Each interface has a plane of its own — one binder (pkg/vip), one
// announcer (pkg/announce), one guard (pkg/guard) and, for the ride
// through an API outage, one witness (pkg/witness) — so every address
// still has exactly one owner: the plane of the interface its route names.
// [Links] is that router. It offers the keeper the same methods a single
// binder, announcer and guard do: the keeper stays the one loop that
// decides what the node holds and until when, and Links splits each of
// its calls by interface. The services controller, which knows each
// address's pool, sets the routes ([Links.Route]) before it hands the
// addresses over, and names the interfaces its pools use ([Links.Use]) so
// their planes and link watches start before the first address.
//
// An address moved to another interface (its pool's interface changed)
// leaves its old plane's binder by omission on the next Set — the binder
// removes what it added and is no longer desired — and is added by the new
// one, like a handover between nodes, but within one call.
//
// A plane, once started, runs until the daemon stops: an interface a pool
// no longer names holds nothing, and its sockets cost nothing on the wire
// but the witness's beacons.
//
// Riding through an API outage needs a peer heard on every link the ride
// keeps addresses on: Links reports to the services loop the oldest of the
// latest instants a peer was heard on the default interface and on each
// interface that holds addresses (Config.Report), so a link cut on one
// NIC ends the ride of every Service address, the conservative choice.
package links
