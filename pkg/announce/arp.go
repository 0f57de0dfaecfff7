package announce

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"

	"github.com/vipkeeper/vipkeeper/internal/ether"
)

// arpWriter is the part of *arp.Client the Announcer uses.
type arpWriter interface {
	WriteTo(p *arp.Packet, addr net.HardwareAddr) error
	SetWriteDeadline(t time.Time) error
	Close() error
}

// gratuitousARP returns the two forms of an ARP announcement of vip at mac:
// a request (RFC 5227 §2.3) and a reply with a broadcast target. Both go to
// the Ethernet broadcast address.
func gratuitousARP(mac net.HardwareAddr, vip netip.Addr) ([]*arp.Packet, error) {
	req, err := arp.NewPacket(arp.OperationRequest, mac, vip, ether.ZeroMAC, vip)
	if err != nil {
		return nil, fmt.Errorf("build arp request: %w", err)
	}
	rep, err := arp.NewPacket(arp.OperationReply, mac, vip, ethernet.Broadcast, vip)
	if err != nil {
		return nil, fmt.Errorf("build arp reply: %w", err)
	}
	return []*arp.Packet{req, rep}, nil
}

// sendARP writes both gratuitous ARP forms for vip and returns how many
// packets were written. a.sendMu must be held.
func (a *Announcer) sendARP(ifi *net.Interface, vip netip.Addr, deadline time.Time) (int, error) {
	pkts, err := gratuitousARP(ifi.HardwareAddr, vip)
	if err != nil {
		return 0, err
	}
	if a.arpW == nil {
		w, err := a.dialARP(ifi)
		if err != nil {
			return 0, fmt.Errorf("open arp socket: %w", err)
		}
		a.arpW = w
	}
	sent := 0
	for _, p := range pkts {
		if err := a.arpW.SetWriteDeadline(deadline); err != nil {
			a.closeARP()
			return sent, fmt.Errorf("set arp write deadline: %w", err)
		}
		if err := a.arpW.WriteTo(p, ethernet.Broadcast); err != nil {
			a.closeARP()
			return sent, fmt.Errorf("write arp %s: %w", p.Operation, err)
		}
		sent++
	}
	return sent, nil
}

func (a *Announcer) closeARP() {
	if a.arpW == nil {
		return
	}
	if err := a.arpW.Close(); err != nil {
		a.log.Debug("closing arp socket", "err", err)
	}
	a.arpW = nil
}

// dialARP opens an ARP client on ifi. arp.New needs an IPv4 address on the
// interface, which is why this happens at send time, after the VIP is bound.
func dialARP(ifi *net.Interface) (arpWriter, error) {
	// The socket is only written to. A filter that accepts nothing keeps
	// the kernel from queueing every ARP frame on the link for nobody.
	filter, err := bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: 0}})
	if err != nil {
		return nil, fmt.Errorf("assemble drop-all filter: %w", err)
	}
	conn, err := packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), &packet.Config{Filter: filter})
	if err != nil {
		return nil, err
	}
	c, err := arp.New(ifi, conn)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return c, nil
}
