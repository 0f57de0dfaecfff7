package announce

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// errNoHardwareAddr is returned for links without an Ethernet address
// (tun, WireGuard, ...), where ARP and NDP link-layer options make no sense.
var errNoHardwareAddr = errors.New("interface has no 6-byte hardware address")

// sendRound announces every address in addrs once. a.sendMu must be held.
// Failures are logged and counted; the failed socket is closed so that the
// next announcement opens a fresh one.
func (a *Announcer) sendRound(addrs []netip.Addr, trigger Trigger) {
	if a.stopped {
		a.log.Debug("not announcing: announcer stopped", "trigger", trigger)
		return
	}

	ifi, err := a.link()
	if err != nil {
		for _, ip := range addrs {
			a.fail(protocolOf(ip), trigger, ip, 0, err)
		}
		return
	}

	deadline := time.Now().Add(roundTimeout)
	for _, ip := range addrs {
		var (
			n   int
			err error
		)
		if ip.Is4() {
			n, err = a.sendARP(ifi, ip, deadline)
		} else {
			n, err = a.sendNA(ifi, ip, deadline)
		}
		if err != nil {
			a.fail(protocolOf(ip), trigger, ip, n, err)
			continue
		}
		a.count(protocolOf(ip), trigger, n, false)
		a.log.Debug("announced", "vip", ip, "trigger", trigger, "packets", n)
	}
}

// link looks the interface up again and drops the cached sockets if it was
// recreated (new index) or its MAC changed. a.sendMu must be held.
func (a *Announcer) link() (*net.Interface, error) {
	ifi, err := a.lookupInterface(a.cfg.Interface)
	if err != nil {
		a.closeWriters()
		return nil, fmt.Errorf("look up interface %q: %w", a.cfg.Interface, err)
	}
	if len(ifi.HardwareAddr) != 6 {
		a.closeWriters()
		return nil, fmt.Errorf("interface %q: %w", a.cfg.Interface, errNoHardwareAddr)
	}
	if ifi.Index != a.ifIndex || !bytes.Equal(ifi.HardwareAddr, a.ifMAC) {
		if a.ifIndex != 0 {
			a.log.Info("interface changed, reopening sockets",
				"old_index", a.ifIndex, "new_index", ifi.Index,
				"old_mac", a.ifMAC.String(), "new_mac", ifi.HardwareAddr.String())
		}
		a.closeWriters()
		a.ifIndex = ifi.Index
		a.ifMAC = bytes.Clone(ifi.HardwareAddr)
	}
	return ifi, nil
}

func (a *Announcer) fail(p Protocol, trigger Trigger, ip netip.Addr, packets int, err error) {
	a.count(p, trigger, packets, true)
	a.log.Warn("announcement failed", "protocol", p, "trigger", trigger, "vip", ip, "error", err)
}

// closeWriters closes both cached sockets. a.sendMu must be held.
func (a *Announcer) closeWriters() {
	a.closeARP()
	a.closeNDP()
}

func protocolOf(ip netip.Addr) Protocol {
	if ip.Is4() {
		return ProtocolARP
	}
	return ProtocolNDP
}
