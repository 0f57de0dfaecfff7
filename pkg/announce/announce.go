package announce

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/mdlayher/ndp"

	"github.com/vipkeeper/vipkeeper/internal/ether"
)

const (
	// DefaultBurstCount is the number of rounds sent on takeover, including
	// the first. One round can be lost to a dropped frame, a switch port still
	// in a learning state, or a receiver that was busy; five rounds make a
	// stale cache after failover very unlikely while staying a handful of
	// packets per address. RFC 5227 asks for only two announcements, but it
	// is written for address configuration, not for moving a live address.
	DefaultBurstCount = 5

	// DefaultBurstInterval spaces the burst rounds. With 5 rounds the burst
	// spans 800 ms: long enough to outlast a short link or bridge flap at
	// handover, short enough to be over before a client's first TCP
	// retransmission (initial RTO 1 s, RFC 6298).
	DefaultBurstInterval = 200 * time.Millisecond

	// roundTimeout bounds the socket writes of one round, so a full send
	// buffer cannot hold the caller of Announce for long.
	roundTimeout = 500 * time.Millisecond
)

// Config configures an Announcer.
type Config struct {
	// Interface is the name of the link the VIPs are bound to.
	Interface string
	// BurstCount is the number of rounds sent on takeover, including the
	// first; DefaultBurstCount if 0.
	BurstCount int
	// BurstInterval is the spacing of the burst rounds; DefaultBurstInterval
	// if 0.
	BurstInterval time.Duration
	// RefreshInterval is the period of re-announcements after the burst;
	// 0 disables them.
	RefreshInterval time.Duration
}

// Trigger says why a round was sent. Its values are a small fixed set,
// suitable as a metrics label.
type Trigger string

// Possible Trigger values.
const (
	TriggerTakeover Trigger = "takeover"
	TriggerRefresh  Trigger = "refresh"
)

// Protocol is the protocol of an announcement: ARP for IPv4, NDP for IPv6.
type Protocol string

// Possible Protocol values.
const (
	ProtocolARP Protocol = "arp"
	ProtocolNDP Protocol = "ndp"
)

// StatsKey identifies one counter pair in Stats.
type StatsKey struct {
	Protocol Protocol
	Trigger  Trigger
}

// Counts are cumulative counts of one StatsKey.
type Counts struct {
	// Packets is the number of packets written (two ARP packets per IPv4
	// address and round, one NA per IPv6 address and round).
	Packets uint64
	// Errors is the number of failed announcements of one address in one
	// round (socket open or write failures, missing interface).
	Errors uint64
}

// An Announcer sends gratuitous ARP and unsolicited NA for a set of
// addresses. Create it with New; its methods are safe for concurrent use.
//
// Locking: sendMu serialises rounds and guards the socket state; mu guards
// the announced set, the schedule and the counters. sendMu is always taken
// before mu, mu is never held during socket I/O, and neither is held while
// sending on a channel.
type Announcer struct {
	cfg Config
	log *slog.Logger

	// Injected so tests can run without root and without a real link.
	lookupInterface ether.Lookup
	dialARP         func(ifi *net.Interface) (arpWriter, error)
	listenNDP       func(ifi *net.Interface, addr ndp.Addr) (ndpWriter, netip.Addr, error)

	// wake tells Start's loop that the schedule changed. Capacity 1, sent
	// to without blocking.
	wake chan struct{}

	sendMu  sync.Mutex     // guards the fields below; taken before mu
	stopped bool           // Start has returned; no more sockets are opened
	opened  *net.Interface // the link the writers were opened on; nil until the first round
	arpW    arpWriter      // nil until needed
	ndpW    ndpWriter      // nil until needed
	ndpSrc  netip.Addr     // the address ndpW is bound to

	mu         sync.Mutex           // guards the fields below
	addrs      []netip.Addr         // the announced set, in order; replaced, not modified
	bursts     map[netip.Addr]burst // members of addrs whose takeover burst is not over
	refreshDue time.Time            // next round of the whole set; zero if none
	due        time.Time            // earliest of refreshDue and every burst's due; zero if none
	stats      map[StatsKey]Counts
}

// New returns an Announcer for cfg. It starts nothing and opens nothing.
func New(cfg Config, log *slog.Logger) *Announcer {
	if cfg.BurstCount <= 0 {
		cfg.BurstCount = DefaultBurstCount
	}
	if cfg.BurstInterval <= 0 {
		cfg.BurstInterval = DefaultBurstInterval
	}
	if cfg.RefreshInterval < 0 {
		cfg.RefreshInterval = 0
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Announcer{
		cfg:             cfg,
		log:             log.With("component", "announce", "interface", cfg.Interface),
		lookupInterface: net.InterfaceByName,
		dialARP:         dialARP,
		listenNDP:       listenNDP,
		wake:            make(chan struct{}, 1),
		bursts:          make(map[netip.Addr]burst),
		stats:           make(map[StatsKey]Counts),
	}
}

// Start runs the burst and refresh rounds until ctx ends, then closes the
// sockets. It returns nil when ctx ends. Announce may be called before
// Start; its first round is sent at once and the rest when Start runs.
func (a *Announcer) Start(ctx context.Context) error {
	defer a.shutdown()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		a.mu.Lock()
		due := a.due
		a.mu.Unlock()

		var fire <-chan time.Time
		if !due.IsZero() {
			// Since Go 1.23 Reset drops any stale expiry, so no drain.
			timer.Reset(time.Until(due))
			fire = timer.C
		} else {
			timer.Stop()
		}

		select {
		case <-ctx.Done():
			return nil
		case <-a.wake:
		case <-fire:
			a.sendDue()
		}
	}
}

// Announce makes addrs the announced set (refreshed every RefreshInterval).
// The addresses in fresh (those not in addrs are ignored) get a takeover
// burst: the first round for them is sent before Announce returns, then
// BurstCount-1 more rounds BurstInterval apart, for them only. A fresh
// address that is already bursting starts its burst again. Addresses removed
// from the set are never sent again once Announce returns (it waits for a
// round in progress). An empty addrs is the same as Withdraw.
//
// IPv4-mapped IPv6 addresses are treated as IPv4; invalid and duplicate
// addresses are dropped.
func (a *Announcer) Announce(addrs, fresh []netip.Addr) {
	set := a.normalize(addrs)
	if len(set) == 0 {
		a.Withdraw()
		return
	}

	a.sendMu.Lock()
	a.mu.Lock()
	first := a.updateLocked(set, fresh, time.Now())
	a.mu.Unlock()
	if a.ndpW != nil && !a.ndpSrc.IsLinkLocalUnicast() &&
		(len(first) > 0 || !slices.Contains(set, a.ndpSrc.WithZone(""))) {
		// Bound to a VIP as a fallback; that VIP may be gone now, and a
		// link-local address may have appeared since. Choose again.
		a.closeNDP()
	}
	a.sendRound(first, nil)
	a.sendMu.Unlock()

	a.poke()
}

// Withdraw empties the announced set and cancels pending rounds. It waits
// for a round in progress, so nothing is sent after it returns.
func (a *Announcer) Withdraw() {
	a.sendMu.Lock()
	a.mu.Lock()
	a.addrs = nil
	clear(a.bursts)
	a.refreshDue = time.Time{}
	a.due = time.Time{}
	a.mu.Unlock()
	a.closeWriters()
	a.sendMu.Unlock()

	a.poke()
}

// Stats returns a snapshot of the packet and error counters.
func (a *Announcer) Stats() map[StatsKey]Counts {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[StatsKey]Counts, len(a.stats))
	for k, v := range a.stats {
		out[k] = v
	}
	return out
}

// poke wakes Start's loop without blocking.
func (a *Announcer) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// shutdown closes the sockets and keeps them closed.
func (a *Announcer) shutdown() {
	a.sendMu.Lock()
	defer a.sendMu.Unlock()
	a.stopped = true
	a.closeWriters()
}

// normalize unmaps, validates and de-duplicates addrs, keeping their order.
func (a *Announcer) normalize(addrs []netip.Addr) []netip.Addr {
	set, ignored := ether.Normalize(addrs)
	for _, ip := range ignored {
		a.log.Warn("ignoring address that cannot be announced", "vip", ip)
	}
	return set
}

func (a *Announcer) count(p Protocol, t Trigger, packets int, failed bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := StatsKey{Protocol: p, Trigger: t}
	c := a.stats[k]
	c.Packets += uint64(packets)
	if failed {
		c.Errors++
	}
	a.stats[k] = c
}
