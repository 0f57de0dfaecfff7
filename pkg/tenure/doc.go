// Package tenure is the one rulebook for holding an address: given the
// election's events for one Lease, the node's health, the API server's
// reachability, the outage policy and the clock, it answers whether this
// node may hold the addresses that Lease stands for now, until when, and
// why not. Both loops that hold addresses use it — the keeper for the
// control-plane VIP (the control-plane Lease) and the services controller
// for Service VIPs (the node's own Lease) — so each rule below exists once:
//
//   - term bookkeeping: terms of one Elector run one after another; an
//     Elected of a term that already ended is ignored, and a new term ends
//     every earlier one (Elected and Lost of one term may arrive in either
//     order, since client-go starts leading in a goroutine of its own);
//   - the holder's own deadline: the send time of its last successful
//     renewal plus the lease duration, less the safety margin. A follower
//     cannot judge the Lease expired before send time + lease duration by
//     its own clock, so a holder that is gone by the deadline never
//     overlaps with a new holder (docs/safety.md has the arithmetic);
//   - riding through an API outage (--api-outage hold): a holder that was
//     renewing may keep its addresses past its deadline while the API
//     server is unreachable, and for one renew deadline after it comes
//     back, to renew; it yields to any host that claims an address on the
//     wire meanwhile;
//   - a ride needs a witness (Witness): past its deadline a holder keeps
//     its addresses only while it hears a peer of its group on the VIP's
//     link, so that a takeover would reach it there; without that
//     evidence it is gone by its deadline, as under release;
//   - the lifetime of the addresses (Lifetime): the kernel removes them by
//     the holder's deadline on its own, so a frozen or dead daemon cannot
//     keep them; a ride extends the lifetime on each of the live loop's
//     ticks, and ends where the last extension does;
//   - a claim seen on the wire: kept (and announced over) only while the
//     holder's lease is valid and the address is held under the current
//     term; otherwise the holder yields;
//   - the pre-bind probe is a fence: a new holder probes for a previous
//     one and binds when nobody answers; it waits for silence as long as
//     an earlier holder's kernel can keep the address, and binds over
//     whatever still answers then, loudly.
//
// A Tenure does no I/O, starts no goroutine and reads no clock: every
// method that depends on time takes now.
package tenure
