package announce

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/ndp"
	"golang.org/x/net/ipv6"
)

// ndpWriter is the part of *ndp.Conn the Announcer uses.
type ndpWriter interface {
	WriteTo(m ndp.Message, cm *ipv6.ControlMessage, dst netip.Addr) error
	SetWriteDeadline(t time.Time) error
	Close() error
}

// allNodes is the destination of unsolicited Neighbor Advertisements
// (RFC 4861 §7.2.6).
var allNodes = netip.IPv6LinkLocalAllNodes()

// unsolicitedNA returns the Neighbor Advertisement announcing vip at mac.
// Override makes receivers replace an existing cache entry; Solicited must
// be clear for a multicast NA (RFC 4861 §7.1.2).
func unsolicitedNA(mac net.HardwareAddr, vip netip.Addr) *ndp.NeighborAdvertisement {
	return &ndp.NeighborAdvertisement{
		Router:        false,
		Solicited:     false,
		Override:      true,
		TargetAddress: vip,
		Options: []ndp.Option{
			&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: mac},
		},
	}
}

// sendNA writes an unsolicited NA for vip and returns how many packets were
// written. a.sendMu must be held.
func (a *Announcer) sendNA(ifi *net.Interface, vip netip.Addr, deadline time.Time) (int, error) {
	if a.ndpW == nil {
		if err := a.openNDP(ifi, vip); err != nil {
			return 0, err
		}
	}
	if err := a.ndpW.SetWriteDeadline(deadline); err != nil {
		a.closeNDP()
		return 0, fmt.Errorf("set ndp write deadline: %w", err)
	}
	if err := a.ndpW.WriteTo(unsolicitedNA(ifi.HardwareAddr, vip), nil, allNodes); err != nil {
		a.closeNDP()
		return 0, fmt.Errorf("write neighbor advertisement: %w", err)
	}
	return 1, nil
}

// openNDP opens the NDP socket, sourcing from the link-local address, or from
// vip when there is no usable one (none, or still tentative: binding to a
// tentative address fails). a.sendMu must be held.
func (a *Announcer) openNDP(ifi *net.Interface, vip netip.Addr) error {
	w, src, llErr := a.listenNDP(ifi, ndp.LinkLocal)
	if llErr != nil {
		var vipErr error
		w, src, vipErr = a.listenNDP(ifi, ndp.Addr(vip.String()))
		if vipErr != nil {
			return fmt.Errorf("open ndp socket: %w", errors.Join(llErr, vipErr))
		}
		a.log.Debug("no usable link-local address, sending NA from the VIP",
			"vip", vip, "link_local_err", llErr)
	}
	a.ndpW, a.ndpSrc = w, src
	return nil
}

func (a *Announcer) closeNDP() {
	if a.ndpW == nil {
		return
	}
	if err := a.ndpW.Close(); err != nil {
		a.log.Debug("closing ndp socket", "err", err)
	}
	a.ndpW, a.ndpSrc = nil, netip.Addr{}
}

// listenNDP opens an NDP connection on ifi bound to addr. ndp.Listen sets the
// hop limit to 255 as RFC 4861 requires.
func listenNDP(ifi *net.Interface, addr ndp.Addr) (ndpWriter, netip.Addr, error) {
	c, src, err := ndp.Listen(ifi, addr)
	if err != nil {
		return nil, netip.Addr{}, err
	}
	// The socket is only written to; block all ICMPv6 on receive.
	var f ipv6.ICMPFilter
	f.SetAll(true)
	if err := c.SetICMPFilter(&f); err != nil {
		_ = c.Close()
		return nil, netip.Addr{}, fmt.Errorf("set icmp filter: %w", err)
	}
	return c, src, nil
}
