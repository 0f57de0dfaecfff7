// Package announce tells the local link that this node now owns a virtual IP.
//
// After the elected leader binds a VIP, neighbours still hold the old owner's
// MAC address in their ARP and NDP caches, and switches still forward frames
// for that MAC to the old port. An Announcer fixes both by sending, for every
// announced address:
//
//   - IPv4: a gratuitous ARP in both the request form (RFC 5227 §2.3 "ARP
//     Announcement": sender and target IP are the VIP, target hardware address
//     zero) and the reply form (target hardware address broadcast). Some hosts
//     and routers honour only one of the two, so a round sends both, to the
//     Ethernet broadcast address.
//   - IPv6: an unsolicited Neighbor Advertisement (RFC 4861 §7.2.6) to the
//     all-nodes group ff02::1 with the Override flag set and the Solicited
//     flag clear, carrying a Target Link-Layer Address option, so receivers
//     replace an existing cache entry (RFC 4861 §7.2.5).
//
// # Timing
//
// Announce(addrs, fresh) makes addrs the announced set. The addresses in
// fresh, those the caller has just bound, get a takeover burst: their first
// round is sent in the caller's goroutine before Announce returns (this is
// the failover hot path and must not wait for a tick), and Start's loop then
// sends the remaining Config.BurstCount-1 rounds Config.BurstInterval apart,
// for them only. Each address keeps its own burst schedule, so a Service VIP
// that comes or goes does not re-burst the others; a fresh address that is
// still bursting starts again. Every Config.RefreshInterval the whole set is
// re-announced, counted from the last round that covered all of it. The
// refresh keeps switch MAC tables (typically aged out after 300 s) and router
// ARP caches populated and repairs caches after a partition heals.
//
// An address removed from the set is not sent again after Announce returns, and Withdraw (or an empty set)
// stops everything: no packet is sent after it returns.
//
// A round writes its addresses back to back, without pauses, whether it holds
// one address or a thousand. Its writes share a deadline; the addresses it
// had no time left for are counted as errors.
//
// # Sockets
//
// Sockets are opened lazily at send time, because the ARP client needs an
// IPv4 address on the interface and the NDP listener needs a usable IPv6
// source (the link-local address, or else the VIP itself); both exist only
// once the VIP is bound. They are cached, closed after a write error, when
// the interface's index or MAC changes, on Withdraw and when Start returns.
// The sockets are never read; they carry filters that drop all received
// traffic in the kernel.
//
// Sockets and interface lookups belong to the network namespace of the
// calling thread, so Start and Announce must run in the namespace that holds
// Config.Interface (the daemon runs in the host namespace).
//
// Send errors are logged and counted (see Announcer.Stats), never fatal.
package announce
