package announce

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/ether"
)

// errRoundTimeout is counted for the addresses a round had no time left for.
var errRoundTimeout = errors.New("round timed out")

// sendRound announces every address in takeover (counted as TriggerTakeover)
// and then in refresh (TriggerRefresh) once. a.sendMu must be held. Failures
// are counted per address; the failed socket is closed so that the next
// announcement opens a fresh one.
func (a *Announcer) sendRound(takeover, refresh []netip.Addr) {
	if len(takeover)+len(refresh) == 0 {
		return
	}
	if a.stopped {
		a.log.Debug("not announcing: announcer stopped",
			"takeover", len(takeover), "refresh", len(refresh))
		return
	}

	ifi, err := a.link()
	if err != nil {
		a.failAll(takeover, TriggerTakeover, err)
		a.failAll(refresh, TriggerRefresh, err)
		return
	}

	deadline := time.Now().Add(roundTimeout)
	if left := a.sendEach(ifi, takeover, TriggerTakeover, deadline); left > 0 {
		a.failAll(takeover[len(takeover)-left:], TriggerTakeover, errRoundTimeout)
		a.failAll(refresh, TriggerRefresh, errRoundTimeout)
		return
	}
	if left := a.sendEach(ifi, refresh, TriggerRefresh, deadline); left > 0 {
		a.failAll(refresh[len(refresh)-left:], TriggerRefresh, errRoundTimeout)
	}
}

// sendEach announces the addresses in addrs until deadline passes and
// returns how many it had no time left for. a.sendMu must be held.
func (a *Announcer) sendEach(ifi *net.Interface, addrs []netip.Addr, trigger Trigger, deadline time.Time) int {
	for i, ip := range addrs {
		// Once the deadline has passed every write would fail anyway;
		// stopping here saves reopening a socket per address.
		if !time.Now().Before(deadline) {
			return len(addrs) - i
		}
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
	return 0
}

// link looks the interface up again and drops the cached sockets if it was
// recreated (new index) or its MAC changed. a.sendMu must be held.
func (a *Announcer) link() (*net.Interface, error) {
	ifi, err := ether.Link(a.lookupInterface, a.cfg.Interface)
	if err != nil {
		a.closeWriters()
		return nil, err
	}
	if !ether.Same(ifi, a.opened) {
		if a.opened != nil {
			a.log.Info("interface changed, reopening sockets",
				"old_index", a.opened.Index, "new_index", ifi.Index,
				"old_mac", a.opened.HardwareAddr.String(), "new_mac", ifi.HardwareAddr.String())
		}
		a.closeWriters()
		c := *ifi
		c.HardwareAddr = bytes.Clone(ifi.HardwareAddr)
		a.opened = &c
	}
	return ifi, nil
}

func (a *Announcer) fail(p Protocol, trigger Trigger, ip netip.Addr, packets int, err error) {
	a.count(p, trigger, packets, true)
	a.log.Warn("announcement failed", "protocol", p, "trigger", trigger, "vip", ip, "err", err)
}

// failAll counts a failure for every address in addrs and logs it once, so
// that a missing link does not log a line per address and round.
func (a *Announcer) failAll(addrs []netip.Addr, trigger Trigger, err error) {
	if len(addrs) == 0 {
		return
	}
	for _, ip := range addrs {
		a.count(protocolOf(ip), trigger, 0, true)
	}
	a.log.Warn("announcement failed", "trigger", trigger, "addresses", len(addrs),
		"first_vip", addrs[0], "err", err)
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
