// Package guard detects, on the data plane, another node claiming a virtual
// IP (VIP), so that a VIP is never served by two nodes at once.
//
// When the API server is unreachable the VIP holder keeps its VIPs ("ride
// through"), because nobody else can take the lease either. If only the
// holder is cut off (a partition), a peer does acquire the lease. The two
// nodes then settle ownership on the link itself, in the style of IPv4
// Address Conflict Detection (RFC 5227) and IPv6 Duplicate Address
// Detection (RFC 4862):
//
//   - The new leader calls Guard.Probe before it binds a VIP. For IPv4 that
//     sends an ARP Probe (RFC 5227 §2.1.1: an ARP request with sender IP
//     0.0.0.0, target hardware address zero and target IP the VIP, to the
//     broadcast address); for IPv6 a Neighbor Solicitation from the
//     unspecified address to the VIP's solicited-node multicast group,
//     without a Source Link-Layer Address option (RFC 4862 §5.4.2). Any
//     answer from another MAC means the VIP is still in use. The holder's
//     Linux kernel answers both by itself: an ARP reply sent unicast to the
//     prober, and a Neighbor Advertisement to ff02::1 (RFC 4862 §5.4.3).
//     The caller probes again, a bounded number of times, until nobody
//     answers, and only then binds.
//   - The holder runs Guard.Start and tells it with Guard.Watch which VIPs it
//     holds. The Guard reports every claim on those VIPs from another MAC on
//     the Claims channel: an ARP Probe for a VIP, any ARP whose sender IP is
//     a VIP (an ARP Announcement, RFC 5227 §2.3, or a reply), a Neighbor
//     Solicitation for a VIP from the unspecified address (DAD), one whose
//     IPv6 source is a VIP, and a Neighbor Advertisement for a VIP
//     (RFC 4862 §5.4.4). RFC 5227 §2.4 lets a host that sees a conflicting
//     ARP packet either defend its address or give it up; a holder that has
//     lost the lease must give it up (§2.4 (a)), so the caller unbinds at
//     once. Reporting is all the Guard does; the decision is the caller's.
//   - When a link comes back up, the holder probes too, to learn whether
//     someone took the VIP meanwhile.
//
// # Kinds of claim
//
// A Claim's Kind is KindProbe when someone intends to take the address (ARP
// Probe, DAD Neighbor Solicitation), KindAnnounce when someone says it has
// it, and, in Probe's results only, KindReply for an answer to our probe.
//
// # Sockets
//
// Both directions use AF_PACKET sockets with Ethernet framing
// (mdlayher/packet): one for EtherType ARP, and one for IPv6 with a
// classic BPF filter that passes only ICMPv6 Neighbor Solicitations and
// Advertisements. Sending a DAD probe needs the IPv6 source "::", which the
// kernel's IPv6 stack does not let an ordinary socket choose; receiving on
// a packet socket gives the claimant's Ethernet address, which a Neighbor
// Solicitation from "::" carries nowhere else. Neither needs an IPv4 or
// IPv6 address on the interface. Frames whose Ethernet source is our own
// MAC are ignored.
//
// A raw ICMPv6 socket, which receives nothing (its ICMPv6 filter blocks
// every type), joins the solicited-node multicast group of every watched or
// probed IPv6 VIP. The kernel then sends MLD reports, so that MLD-snooping
// switches forward DAD probes for the VIP to us, and opens the NIC's
// multicast filter. It joins the group whether or not the VIP is bound
// (a bound address's group is joined by the kernel too).
//
// Start keeps its sockets open while it runs, so there is no gap between
// binding a VIP and guarding it, and reopens them with a bounded backoff
// after a read error, and when the interface is re-created or changes its
// MAC (checked every linkCheckInterval). Probe opens its own sockets for
// the duration of one round, so it works whether or not Start runs.
//
// Sockets belong to the network namespace of the thread that opens them;
// Start and Probe must run in the namespace that holds Config.Interface.
package guard
