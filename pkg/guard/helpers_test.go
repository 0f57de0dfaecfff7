package guard

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
)

// Documentation addresses and locally administered MACs only.
var (
	ourMAC   = net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x01}
	otherMAC = net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x02}
	thirdMAC = net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x03}

	vip4      = netip.MustParseAddr("192.0.2.100")
	vip4b     = netip.MustParseAddr("198.51.100.7")
	client4   = netip.MustParseAddr("192.0.2.7")
	vip6      = netip.MustParseAddr("2001:db8::100")
	vip6b     = netip.MustParseAddr("2001:db8::200")
	client6   = netip.MustParseAddr("2001:db8::7")
	unwatched = netip.MustParseAddr("203.0.113.9")

	unspec4  = netip.IPv4Unspecified()
	unspec6  = netip.IPv6Unspecified()
	allNodes = netip.IPv6LinkLocalAllNodes()
)

// cmpAddr compares netip.Addr values, whose fields are unexported.
var cmpAddr = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// arpFrame builds an Ethernet frame with an ARP packet from ethSrc to the
// broadcast address.
func arpFrame(t testing.TB, ethSrc net.HardwareAddr, op arp.Operation, sha net.HardwareAddr, sip netip.Addr, tha net.HardwareAddr, tip netip.Addr) []byte {
	t.Helper()
	p := arp.Packet{
		HardwareType: 1, ProtocolType: uint16(ethernet.EtherTypeIPv4),
		HardwareAddrLength: 6, IPLength: 4, Operation: op,
		SenderHardwareAddr: sha, SenderIP: sip, TargetHardwareAddr: tha, TargetIP: tip,
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return ethFrame(t, ethSrc, ethernet.Broadcast, ethernet.EtherTypeARP, pb)
}

func ethFrame(t testing.TB, src, dst net.HardwareAddr, et ethernet.EtherType, payload []byte) []byte {
	t.Helper()
	f := ethernet.Frame{Destination: dst, Source: src, EtherType: et, Payload: payload}
	b, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ndpFrame builds an Ethernet frame with an IPv6 packet carrying m with a
// correct checksum.
func ndpFrame(t testing.TB, ethSrc net.HardwareAddr, src, dst netip.Addr, hopLimit uint8, m ndp.Message) []byte {
	t.Helper()
	msg, err := ndp.MarshalMessageChecksum(m, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	return ipv6Frame(t, ethSrc, src, dst, hopLimit, msg)
}

// ipv6Frame wraps msg, as is, in IPv6 (next header ICMPv6) and Ethernet.
func ipv6Frame(t testing.TB, ethSrc net.HardwareAddr, src, dst netip.Addr, hopLimit uint8, msg []byte) []byte {
	t.Helper()
	ip := make([]byte, ipv6HeaderLen)
	ip[0] = 6 << 4
	binary.BigEndian.PutUint16(ip[4:6], uint16(len(msg)))
	ip[6] = protoICMPv6
	ip[7] = hopLimit
	s, d := src.As16(), dst.As16()
	copy(ip[8:24], s[:])
	copy(ip[24:40], d[:])
	ethDst := otherMAC
	if dst.IsMulticast() {
		ethDst = multicastMAC(dst)
	}
	return ethFrame(t, ethSrc, ethDst, ethernet.EtherTypeIPv6, append(ip, msg...))
}

// rawICMPv6 returns an ICMPv6 message of type typ and code with body and a
// correct checksum for src → dst.
func rawICMPv6(typ, code byte, body []byte, src, dst netip.Addr) []byte {
	msg := append([]byte{typ, code, 0, 0}, body...)
	binary.BigEndian.PutUint16(msg[2:4], ^icmpv6Checksum(src, dst, msg))
	return msg
}

func dadNS(target netip.Addr, opts ...ndp.Option) *ndp.NeighborSolicitation {
	return &ndp.NeighborSolicitation{TargetAddress: target, Options: opts}
}

func na(target netip.Addr, opts ...ndp.Option) *ndp.NeighborAdvertisement {
	return &ndp.NeighborAdvertisement{Override: true, TargetAddress: target, Options: opts}
}

func tlla(mac net.HardwareAddr) ndp.Option {
	return &ndp.LinkLayerAddress{Direction: ndp.Target, Addr: mac}
}

func slla(mac net.HardwareAddr) ndp.Option {
	return &ndp.LinkLayerAddress{Direction: ndp.Source, Addr: mac}
}

func snm(t testing.TB, a netip.Addr) netip.Addr {
	t.Helper()
	g, err := ndp.SolicitedNodeMulticast(a)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// patch returns a copy of b with b[off] = v.
func patch(b []byte, off int, v byte) []byte {
	out := append([]byte(nil), b...)
	out[off] = v
	return out
}
