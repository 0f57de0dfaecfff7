package guard

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
)

const (
	// writeTimeout bounds each probe write, so a full socket buffer cannot
	// hold the caller.
	writeTimeout = 500 * time.Millisecond

	// maxProbeClaims bounds the distinct claims one round collects, so a
	// flood of frames from random MACs cannot grow the result without
	// limit. One claim per address already says "in use".
	maxProbeClaims = 64
)

// errBadWait is returned by Probe for a non-positive wait: a probe that
// listens for no time would always find the address free.
var errBadWait = errors.New("probe wait must be positive")

// Probe sends one probe round for addrs on the interface (an ARP Probe per
// IPv4 address, a DAD Neighbor Solicitation per IPv6 address) and collects
// for wait the claims on them by other MACs. An empty result means nobody
// answered: the addresses look free. A non-nil error means the round did
// not complete (socket, send or read failure, ctx ended) and says nothing
// about the addresses; the claims heard so far are returned with it.
//
// Claims that say "I have it" have Kind KindReply, whether they answer our
// probe or are an announcement that happened to arrive during the round;
// another node probing for the same address at the same time (RFC 5227
// §2.1.1, RFC 4862 §5.4.3) gives KindProbe. The result has at most one
// claim per address, MAC and kind, sorted by address.
//
// Probe opens its own sockets, so it works whether or not Start runs and
// whether or not the interface has an IP address. It must run in the
// network namespace of Config.Interface.
func (g *Guard) Probe(ctx context.Context, addrs []netip.Addr, wait time.Duration) ([]Claim, error) {
	if wait <= 0 {
		return nil, fmt.Errorf("%w: %v", errBadWait, wait)
	}
	set := g.normalize(addrs)
	if len(set) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	s, err := g.openProbe(set)
	if err != nil {
		return nil, err
	}
	// Closing a packet socket waits for an RCU grace period in the kernel
	// (synchronize_net, ~10 ms each); a new leader must not wait for that
	// before it binds, so the sockets are closed in the background.
	defer func() { go s.close(g) }()
	conns := slices.DeleteFunc([]frameConn{s.arp, s.ndp}, func(c frameConn) bool { return c == nil })

	// The sockets are bound, so answers are queued from here on, even
	// before a reader waits for them.
	deadline := time.Now().Add(wait)
	for _, c := range conns {
		if err := c.SetReadDeadline(deadline); err != nil {
			return nil, fmt.Errorf("probe: set read deadline: %w", err)
		}
	}
	col := &collector{watched: newAddrSet(set), ourMAC: s.ifi.HardwareAddr}
	errc := make(chan error, len(conns))
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { errc <- col.read(c) })
	}
	stopReading := func() {
		for _, c := range conns {
			_ = c.SetReadDeadline(time.Now()) // ReadFrom returns at once
		}
	}
	stopOnCancel := context.AfterFunc(ctx, stopReading)
	defer stopOnCancel()

	sendErr := g.sendProbes(s, set)
	if sendErr != nil {
		stopReading()
	}
	wg.Wait()
	close(errc)
	errs := []error{sendErr}
	for err := range errc {
		errs = append(errs, err)
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	claims := col.result()
	if err := errors.Join(errs...); err != nil {
		return claims, fmt.Errorf("probe %v: %w", set, err)
	}
	g.log.Debug("probed", "vips", set, "wait", wait, "claims", len(claims))
	return claims, nil
}

// openProbe opens the sockets one probe round needs.
func (g *Guard) openProbe(set []netip.Addr) (*session, error) {
	ifi, err := g.link()
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	s := &session{ifi: ifi, groups: make(map[netip.Addr]netip.Addr)}
	if slices.ContainsFunc(set, netip.Addr.Is4) {
		if s.arp, err = g.openARP(ifi); err != nil {
			return nil, fmt.Errorf("probe: %w", err)
		}
	}
	if !slices.ContainsFunc(set, netip.Addr.Is6) {
		return s, nil
	}
	if s.ndp, err = g.openNDP(ifi); err != nil {
		s.close(g)
		return nil, fmt.Errorf("probe: %w", err)
	}
	// Joining the groups lets us hear another node's DAD probe for the
	// same address. The holder's answer goes to ff02::1, which needs no
	// join, so a failure here does not fail the probe.
	if s.mc, err = g.openGroups(ifi); err != nil {
		s.mc = nil
		g.log.Warn("probe: cannot join ipv6 multicast groups", "err", err)
		return s, nil
	}
	for _, a := range set {
		if !a.Is6() {
			continue
		}
		grp, err := ndp.SolicitedNodeMulticast(a)
		if err != nil {
			continue
		}
		if _, ok := s.groups[grp]; ok {
			continue
		}
		if err := s.mc.JoinGroup(grp); err != nil {
			g.log.Warn("probe: joining solicited-node group", "vip", a, "group", grp, "err", err)
			continue
		}
		s.groups[grp] = a
	}
	return s, nil
}

// sendProbes writes one probe per address.
func (g *Guard) sendProbes(s *session, set []netip.Addr) error {
	mac := s.ifi.HardwareAddr
	for _, a := range set {
		var (
			c     frameConn
			frame []byte
			dst   net.HardwareAddr
			err   error
		)
		if a.Is4() {
			c, dst = s.arp, ethernet.Broadcast
			frame, err = arpProbeFrame(mac, a)
		} else {
			c = s.ndp
			frame, dst, err = dadProbeFrame(mac, a)
		}
		if err != nil {
			return err
		}
		if err := c.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
			return fmt.Errorf("set write deadline: %w", err)
		}
		if _, err := c.WriteTo(frame, &packet.Addr{HardwareAddr: dst}); err != nil {
			return fmt.Errorf("send probe for %s: %w", a, err)
		}
	}
	return nil
}

// collector gathers the claims of one probe round.
type collector struct {
	watched addrSet
	ourMAC  net.HardwareAddr

	mu     sync.Mutex // guards the field below
	claims []Claim
}

// read collects claims from c until its read deadline; it returns nil then,
// and any other error as is.
func (col *collector) read(c frameConn) error {
	buf := make([]byte, readBufferSize)
	for {
		n, _, err := c.ReadFrom(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		claim, reason := classify(buf[:n], col.ourMAC, col.watched)
		if reason != dropNone {
			continue
		}
		if claim.Kind == KindAnnounce {
			claim.Kind = KindReply
		}
		col.add(claim)
	}
}

func (col *collector) add(c Claim) {
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.claims) >= maxProbeClaims {
		return
	}
	for _, have := range col.claims {
		if have.Addr == c.Addr && have.Kind == c.Kind && bytes.Equal(have.MAC, c.MAC) {
			return
		}
	}
	col.claims = append(col.claims, c)
}

// result returns the claims sorted by address, MAC and kind.
func (col *collector) result() []Claim {
	col.mu.Lock()
	defer col.mu.Unlock()
	out := slices.Clone(col.claims)
	slices.SortFunc(out, func(a, b Claim) int {
		return cmp.Or(a.Addr.Compare(b.Addr), bytes.Compare(a.MAC, b.MAC), cmp.Compare(a.Kind, b.Kind))
	})
	return out
}
