package guard

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"

	"github.com/vipkeeper/vipkeeper/internal/ether"
)

// arpProbeFrame returns an Ethernet frame carrying an ARP Probe for vip
// from mac, to the broadcast address (RFC 5227 §2.1.1).
func arpProbeFrame(mac net.HardwareAddr, vip netip.Addr) ([]byte, error) {
	p, err := arp.NewPacket(arp.OperationRequest, mac, netip.IPv4Unspecified(), ether.ZeroMAC, vip)
	if err != nil {
		return nil, fmt.Errorf("build arp probe for %s: %w", vip, err)
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("marshal arp probe for %s: %w", vip, err)
	}
	f := ethernet.Frame{
		Destination: ethernet.Broadcast,
		Source:      mac,
		EtherType:   ethernet.EtherTypeARP,
		Payload:     pb,
	}
	return f.MarshalBinary()
}

// dadProbeFrame returns an Ethernet frame carrying a Duplicate Address
// Detection Neighbor Solicitation for vip from mac (RFC 4862 §5.4.2): IPv6
// source "::", destination vip's solicited-node multicast group, hop limit
// 255, and no Source Link-Layer Address option (RFC 4861 §4.3 forbids it
// with an unspecified source). It also returns the destination MAC, the
// group's Ethernet multicast address (RFC 2464 §7).
func dadProbeFrame(mac net.HardwareAddr, vip netip.Addr) ([]byte, net.HardwareAddr, error) {
	group, err := ndp.SolicitedNodeMulticast(vip)
	if err != nil {
		return nil, nil, fmt.Errorf("solicited-node group of %s: %w", vip, err)
	}
	src := netip.IPv6Unspecified()
	msg, err := ndp.MarshalMessageChecksum(&ndp.NeighborSolicitation{TargetAddress: vip}, src, group)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal dad probe for %s: %w", vip, err)
	}
	ip := make([]byte, ipv6HeaderLen, ipv6HeaderLen+len(msg))
	ip[0] = 6 << 4 // version 6, traffic class 0, flow label 0
	binary.BigEndian.PutUint16(ip[4:6], uint16(len(msg)))
	ip[6] = protoICMPv6
	ip[7] = ndpHopLimit
	s, d := src.As16(), group.As16()
	copy(ip[8:24], s[:])
	copy(ip[24:40], d[:])
	ip = append(ip, msg...)

	dst := multicastMAC(group)
	f := ethernet.Frame{
		Destination: dst,
		Source:      mac,
		EtherType:   ethernet.EtherTypeIPv6,
		Payload:     ip,
	}
	b, err := f.MarshalBinary()
	if err != nil {
		return nil, nil, fmt.Errorf("marshal dad probe frame for %s: %w", vip, err)
	}
	return b, dst, nil
}

// multicastMAC maps an IPv6 multicast address to its Ethernet address,
// 33:33 followed by the low 32 bits (RFC 2464 §7).
func multicastMAC(group netip.Addr) net.HardwareAddr {
	g := group.As16()
	return net.HardwareAddr{0x33, 0x33, g[12], g[13], g[14], g[15]}
}
