package guard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/mdlayher/ndp"

	"github.com/vipkeeper/vipkeeper/internal/ether"
)

// Start opens the ARP and IPv6 listeners on the interface and reports
// claims on the watched addresses until ctx ends; then it closes everything
// and returns nil. After an open or read error, and when the interface is
// re-created or changes its MAC, it reopens the listeners after a backoff
// between minBackoff and maxBackoff. Start must run in the network
// namespace of Config.Interface and must not run twice at once.
func (g *Guard) Start(ctx context.Context) error {
	backoff := minBackoff
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		opened := time.Now()
		err := g.listen(ctx)
		if ctx.Err() != nil {
			return nil
		}
		g.errs.Add(1)
		if time.Since(opened) > linkCheckInterval {
			backoff = minBackoff // that session was healthy for a while
		}
		g.log.Warn("guard listeners failed, reopening", "err", err, "retry_in", backoff)
		timer.Reset(backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// session is one set of open listeners.
type session struct {
	ifi    *net.Interface
	arp    frameConn
	ndp    frameConn
	mc     groupConn                 // nil if IPv6 is unavailable on the link
	groups map[netip.Addr]netip.Addr // joined group → a watched address in it
}

// listen runs one session: it opens the listeners, reads until ctx ends, a
// listener fails or the link changes, and closes them again. It returns
// why it stopped.
func (g *Guard) listen(ctx context.Context) error {
	s, err := g.open()
	if err != nil {
		return err
	}
	g.opens.Add(1)
	g.log.Debug("guard listening", "index", s.ifi.Index, "mac", s.ifi.HardwareAddr.String())

	errc := make(chan error, 2) // one per reader: they never block
	var wg sync.WaitGroup
	for _, c := range []frameConn{s.arp, s.ndp} {
		wg.Go(func() { errc <- g.read(c, s.ifi.HardwareAddr) })
	}
	defer func() {
		s.close(g) // unblocks the readers
		wg.Wait()
	}()

	g.syncGroups(s)
	tick := time.NewTicker(linkCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errc:
			return err
		case <-g.wake:
			g.syncGroups(s)
		case <-tick.C:
			ifi, err := g.link()
			if err != nil {
				return err
			}
			if !ether.Same(ifi, s.ifi) {
				return fmt.Errorf("%w: index %d → %d, mac %s → %s", errLinkChanged,
					s.ifi.Index, ifi.Index, s.ifi.HardwareAddr, ifi.HardwareAddr)
			}
			g.syncGroups(s) // retries joins that failed
		}
	}
}

// open opens the listeners of one session. The group socket is optional:
// without IPv6 on the link there is nothing to join, and IPv4 guarding
// still works.
func (g *Guard) open() (*session, error) {
	ifi, err := g.link()
	if err != nil {
		return nil, err
	}
	s := &session{ifi: ifi, groups: make(map[netip.Addr]netip.Addr)}
	if s.arp, err = g.openARP(ifi); err != nil {
		return nil, err
	}
	if s.ndp, err = g.openNDP(ifi); err != nil {
		s.close(g)
		return nil, err
	}
	if s.mc, err = g.openGroups(ifi); err != nil {
		s.mc = nil
		g.log.Warn("cannot join ipv6 multicast groups; dad probes may not reach us", "err", err)
	}
	return s, nil
}

// close closes every socket of s; closing the group socket leaves its
// groups.
func (s *session) close(g *Guard) {
	for _, c := range []interface{ Close() error }{s.arp, s.ndp, s.mc} {
		if c == nil {
			continue
		}
		if err := c.Close(); err != nil {
			g.log.Debug("closing guard socket", "err", err)
		}
	}
}

// syncGroups makes the joined solicited-node groups those of the watched
// IPv6 addresses. Failures are logged and retried on the next call.
func (g *Guard) syncGroups(s *session) {
	if s.mc == nil {
		return
	}
	want := make(map[netip.Addr]netip.Addr)
	for a := range *g.watched.Load() {
		if a.Is6() {
			grp, err := ndp.SolicitedNodeMulticast(a)
			if err == nil {
				want[grp] = a
			}
		}
	}
	for grp, a := range want {
		if _, ok := s.groups[grp]; ok {
			continue
		}
		if err := s.mc.JoinGroup(grp); err != nil {
			g.log.Warn("joining solicited-node group", "vip", a, "group", grp, "err", err)
			continue
		}
		s.groups[grp] = a
	}
	for grp, a := range s.groups {
		if _, ok := want[grp]; ok {
			continue
		}
		if err := s.mc.LeaveGroup(grp); err != nil {
			g.log.Debug("leaving solicited-node group", "vip", a, "group", grp, "err", err)
		}
		delete(s.groups, grp)
	}
}

// read classifies frames from c until c fails or is closed, and returns
// the error.
func (g *Guard) read(c frameConn, ourMAC net.HardwareAddr) error {
	buf := make([]byte, readBufferSize)
	down := 0
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, syscall.ENETDOWN) && down < maxLinkDownErrors {
				// The link went down; the socket stays bound and
				// receives again once it is up.
				down++
				g.log.Debug("link down while guarding", "err", err)
				continue
			}
			return fmt.Errorf("read: %w", err)
		}
		down = 0
		w := g.watched.Load()
		if len(*w) == 0 {
			continue
		}
		if claim, reason := classify(buf[:n], ourMAC, *w); reason == dropNone {
			g.report(claim)
		}
	}
}
