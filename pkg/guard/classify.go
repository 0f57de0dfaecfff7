package guard

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"golang.org/x/net/ipv6"
)

// dropReason says why a frame is not a claim. The values are a small fixed
// set, suitable as a log value or metrics label.
type dropReason string

// Possible dropReason values.
const (
	dropNone         dropReason = "none"          // it is a claim
	dropTruncated    dropReason = "truncated"     // shorter than an Ethernet header
	dropEtherType    dropReason = "ethertype"     // neither ARP nor IPv6 (also 802.1Q-tagged frames)
	dropOwnFrame     dropReason = "own_frame"     // sent by, or naming, our own MAC
	dropMalformedARP dropReason = "malformed_arp" // not Ethernet/IPv4 ARP, or short
	dropARPOperation dropReason = "arp_operation" // neither request nor reply
	dropMalformedIP  dropReason = "malformed_ipv6"
	dropNotICMPv6    dropReason = "not_icmpv6" // next header is not ICMPv6 (extension headers included)
	dropHopLimit     dropReason = "hop_limit"  // NDP requires 255 (RFC 4861 §7.1): sent off-link
	dropChecksum     dropReason = "icmpv6_checksum"
	dropICMPType     dropReason = "icmpv6_type" // not NS or NA, or code ≠ 0
	dropMalformedNDP dropReason = "malformed_ndp"
	dropNotWatched   dropReason = "not_watched" // about no watched address
	dropNotClaim     dropReason = "not_claim"   // ordinary resolution traffic about a watched address
)

// Kind is what a claimant does with an address. Its values are a small
// fixed set, suitable as a metrics label.
type Kind string

// Possible Kind values.
const (
	// KindProbe: someone intends to take the address (an ARP Probe or a
	// DAD Neighbor Solicitation).
	KindProbe Kind = "probe"
	// KindAnnounce: someone says it has the address (a gratuitous ARP, an
	// ARP or NS sent from the address, a Neighbor Advertisement for it).
	KindAnnounce Kind = "announce"
	// KindReply: someone answered our probe; only in Probe's results.
	KindReply Kind = "reply"
)

// Claim is another node's claim on a watched or probed address.
type Claim struct {
	Addr netip.Addr
	// MAC is the claimant's hardware address: the ARP sender hardware
	// address, the Target Link-Layer Address option of a Neighbor
	// Advertisement, or else the Ethernet source.
	MAC  net.HardwareAddr
	Kind Kind
}

// addrSet is a set of addresses; the zero value is empty.
type addrSet map[netip.Addr]struct{}

func newAddrSet(addrs []netip.Addr) addrSet {
	s := make(addrSet, len(addrs))
	for _, a := range addrs {
		s[a] = struct{}{}
	}
	return s
}

func (s addrSet) has(a netip.Addr) bool {
	_, ok := s[a]
	return ok
}

const (
	ethHeaderLen  = 14
	ipv6HeaderLen = 40
	// ndpHopLimit is the hop limit of every NDP message (RFC 4861 §7.1):
	// anything less has crossed a router.
	ndpHopLimit = 255
	// protoICMPv6 is ICMPv6's IANA protocol number, the IPv6 next header.
	protoICMPv6 = 58
)

// classify decides whether an Ethernet frame (as read from a packet socket,
// without FCS and without an 802.1Q tag) is a claim on an address in
// watched by a host other than ourMAC. It never fails: whatever is not a
// claim comes back with the reason. It is pure, so table tests and the
// fuzzer cover all of the parsing.
func classify(frame []byte, ourMAC net.HardwareAddr, watched addrSet) (Claim, dropReason) {
	if len(frame) < ethHeaderLen {
		return Claim{}, dropTruncated
	}
	src := net.HardwareAddr(frame[6:12])
	if bytes.Equal(src, ourMAC) {
		return Claim{}, dropOwnFrame
	}
	payload := frame[ethHeaderLen:]
	switch ethernet.EtherType(binary.BigEndian.Uint16(frame[12:14])) {
	case ethernet.EtherTypeARP:
		return classifyARP(payload, ourMAC, watched)
	case ethernet.EtherTypeIPv6:
		return classifyNDP(payload, src, ourMAC, watched)
	default:
		return Claim{}, dropEtherType
	}
}

// classifyARP classifies an ARP packet (RFC 826, RFC 5227 §2.1.1).
func classifyARP(b []byte, ourMAC net.HardwareAddr, watched addrSet) (Claim, dropReason) {
	var p arp.Packet
	if err := p.UnmarshalBinary(b); err != nil {
		return Claim{}, dropMalformedARP
	}
	if p.HardwareType != 1 || p.ProtocolType != uint16(ethernet.EtherTypeIPv4) ||
		p.HardwareAddrLength != 6 || p.IPLength != 4 {
		return Claim{}, dropMalformedARP
	}
	if p.Operation != arp.OperationRequest && p.Operation != arp.OperationReply {
		return Claim{}, dropARPOperation
	}
	if bytes.Equal(p.SenderHardwareAddr, ourMAC) {
		return Claim{}, dropOwnFrame
	}
	mac := bytes.Clone(p.SenderHardwareAddr)
	switch {
	case watched.has(p.SenderIP):
		// Whoever sends ARP from the address uses it: an announcement in
		// request or reply form, an answer to a probe, or address
		// resolution by a host that has it configured.
		return Claim{Addr: p.SenderIP, MAC: mac, Kind: KindAnnounce}, dropNone
	case watched.has(p.TargetIP):
		if p.Operation == arp.OperationRequest && p.SenderIP.IsUnspecified() {
			return Claim{Addr: p.TargetIP, MAC: mac, Kind: KindProbe}, dropNone
		}
		// A client resolving the VIP, or a reply to us about it.
		return Claim{}, dropNotClaim
	default:
		return Claim{}, dropNotWatched
	}
}

// classifyNDP classifies an IPv6 packet that may carry a Neighbor
// Solicitation or Advertisement (RFC 4861 §4.3, §4.4, §7.1; RFC 4862
// §5.4.3, §5.4.4). ethSrc is the Ethernet source address.
func classifyNDP(b []byte, ethSrc, ourMAC net.HardwareAddr, watched addrSet) (Claim, dropReason) {
	if len(b) < ipv6HeaderLen || b[0]>>4 != 6 {
		return Claim{}, dropMalformedIP
	}
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	if ipv6HeaderLen+plen > len(b) {
		return Claim{}, dropMalformedIP
	}
	if b[6] != protoICMPv6 {
		return Claim{}, dropNotICMPv6
	}
	if b[7] != ndpHopLimit {
		return Claim{}, dropHopLimit
	}
	src := netip.AddrFrom16([16]byte(b[8:24]))
	dst := netip.AddrFrom16([16]byte(b[24:40]))
	msg := b[ipv6HeaderLen : ipv6HeaderLen+plen] // drops Ethernet padding
	if len(msg) < 4 {
		return Claim{}, dropMalformedNDP
	}
	typ := ipv6.ICMPType(msg[0])
	if (typ != ipv6.ICMPTypeNeighborSolicitation && typ != ipv6.ICMPTypeNeighborAdvertisement) || msg[1] != 0 {
		return Claim{}, dropICMPType
	}
	if icmpv6Checksum(src, dst, msg) != 0xffff {
		return Claim{}, dropChecksum
	}
	m, err := ndp.ParseMessage(msg)
	if err != nil {
		return Claim{}, dropMalformedNDP
	}
	mac := bytes.Clone(ethSrc)

	switch m := m.(type) {
	case *ndp.NeighborSolicitation:
		switch {
		case src.IsUnspecified() && watched.has(m.TargetAddress):
			return Claim{Addr: m.TargetAddress, MAC: mac, Kind: KindProbe}, dropNone
		case watched.has(src):
			// The IPv6 analogue of an ARP sender IP: the sender uses it.
			return Claim{Addr: src, MAC: mac, Kind: KindAnnounce}, dropNone
		case watched.has(m.TargetAddress):
			return Claim{}, dropNotClaim
		default:
			return Claim{}, dropNotWatched
		}
	case *ndp.NeighborAdvertisement:
		if !watched.has(m.TargetAddress) {
			return Claim{}, dropNotWatched
		}
		if tlla := targetLLA(m.Options); tlla != nil {
			if bytes.Equal(tlla, ourMAC) {
				return Claim{}, dropOwnFrame
			}
			mac = bytes.Clone(tlla)
		}
		return Claim{Addr: m.TargetAddress, MAC: mac, Kind: KindAnnounce}, dropNone
	default:
		// Unreachable: the type was checked above.
		return Claim{}, dropICMPType
	}
}

// targetLLA returns the first Target Link-Layer Address option, or nil.
func targetLLA(opts []ndp.Option) net.HardwareAddr {
	for _, o := range opts {
		if lla, ok := o.(*ndp.LinkLayerAddress); ok && lla.Direction == ndp.Target {
			return lla.Addr
		}
	}
	return nil
}

// icmpv6Checksum returns the ones' complement sum of the IPv6 pseudo-header
// and msg (RFC 4443 §2.3, RFC 8200 §8.1). It is 0xffff for an intact
// message, whose checksum field is included in msg. A packet socket sees
// frames before the IPv6 stack has checked anything.
func icmpv6Checksum(src, dst netip.Addr, msg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for len(b) >= 2 {
			sum += uint32(b[0])<<8 | uint32(b[1])
			b = b[2:]
		}
		if len(b) == 1 {
			sum += uint32(b[0]) << 8
		}
	}
	s, d := src.As16(), dst.As16()
	add(s[:])
	add(d[:])
	sum += uint32(len(msg)>>16) + uint32(len(msg)&0xffff)
	sum += protoICMPv6
	add(msg)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}
