package guard

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/net/ipv6"
)

// frameConn is the part of *packet.Conn the Guard uses.
type frameConn interface {
	ReadFrom(b []byte) (int, net.Addr, error)
	WriteTo(b []byte, addr net.Addr) (int, error)
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
	Close() error
}

// groupConn holds IPv6 multicast group memberships; the part of *ndp.Conn
// the Guard uses.
type groupConn interface {
	JoinGroup(group netip.Addr) error
	LeaveGroup(group netip.Addr) error
	Close() error
}

// readBufferSize holds any Ethernet frame, jumbo frames included. A packet
// socket silently truncates longer frames; a truncated NDP frame then fails
// its checksum.
const readBufferSize = 1 << 16

// ndpFilter passes IPv6 frames that carry an ICMPv6 Neighbor Solicitation
// (135) or Advertisement (136) directly after the IPv6 header, so that the
// socket is not woken for the link's other IPv6 traffic. NDP messages
// carry no extension headers. Offsets are from the start of the Ethernet
// header: EtherType at 12, IPv6 next header at 14+6, ICMPv6 type at 14+40.
var ndpFilter = []bpf.Instruction{
	/* 0 */ bpf.LoadAbsolute{Off: 12, Size: 2},
	/* 1 */ bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(ethernet.EtherTypeIPv6), SkipTrue: 5}, // → 7
	/* 2 */ bpf.LoadAbsolute{Off: ethHeaderLen + 6, Size: 1},
	/* 3 */ bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: protoICMPv6, SkipTrue: 3}, // → 7
	/* 4 */ bpf.LoadAbsolute{Off: ethHeaderLen + ipv6HeaderLen, Size: 1},
	/* 5 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(ipv6.ICMPTypeNeighborSolicitation), SkipTrue: 2}, // → 8
	/* 6 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(ipv6.ICMPTypeNeighborAdvertisement), SkipTrue: 1}, // → 8
	/* 7 */ bpf.RetConstant{Val: 0},
	/* 8 */ bpf.RetConstant{Val: readBufferSize - 1},
}

// openARP opens a packet socket for ARP frames on ifi. It needs no IP
// address on the interface, unlike arp.Client.
func openARP(ifi *net.Interface) (frameConn, error) {
	c, err := packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), nil)
	if err != nil {
		return nil, fmt.Errorf("open arp packet socket: %w", err)
	}
	return c, nil
}

// openNDP opens a packet socket for IPv6 frames on ifi, filtered down to
// Neighbor Solicitations and Advertisements.
func openNDP(ifi *net.Interface) (frameConn, error) {
	filter, err := bpf.Assemble(ndpFilter)
	if err != nil {
		return nil, fmt.Errorf("assemble ndp filter: %w", err)
	}
	c, err := packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeIPv6), &packet.Config{Filter: filter})
	if err != nil {
		return nil, fmt.Errorf("open ipv6 packet socket: %w", err)
	}
	return c, nil
}

// openGroups opens a raw ICMPv6 socket that only holds multicast group
// memberships on ifi. Its ICMPv6 filter blocks every type, so nothing is
// ever queued on it; the frames are read from the packet socket.
func openGroups(ifi *net.Interface) (groupConn, error) {
	c, _, err := ndp.Listen(ifi, ndp.Unspecified)
	if err != nil {
		return nil, fmt.Errorf("open icmpv6 socket: %w", err)
	}
	var f ipv6.ICMPFilter
	f.SetAll(true)
	if err := c.SetICMPFilter(&f); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("set icmpv6 filter: %w", err)
	}
	return c, nil
}
