package guard

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/ether"
)

const (
	// claimsBuffer is the capacity of the Claims channel. The receiver acts
	// on the first claim for an address; a new owner's takeover burst (two
	// ARP forms or one NA per address, five rounds in pkg/announce) can fill
	// a small buffer, so keep room for claims on several addresses. Claims
	// beyond it are dropped and counted, never waited for.
	claimsBuffer = 32

	// minBackoff and maxBackoff bound the wait before reopening the
	// listeners after a failure. The maximum is short because while the
	// listeners are down a claim goes unseen; the minimum keeps a
	// persistent error (interface gone) from spinning.
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second

	// linkCheckInterval is how often Start looks the interface up again. A
	// packet socket bound to a deleted interface reads nothing, forever,
	// and reports no error, so re-creation is noticed only by looking.
	// net.InterfaceByName dumps all links over netlink; every few seconds
	// is cheap even on a node with many veths.
	linkCheckInterval = 5 * time.Second

	// maxLinkDownErrors is how many ENETDOWN read errors in a row a listener
	// tolerates. The kernel reports ENETDOWN once each time the link goes
	// down and keeps the socket bound, so it is not a reason to reopen;
	// a stream of them is.
	maxLinkDownErrors = 16
)

// Config configures a Guard.
type Config struct {
	// Interface is the name of the link the VIPs are bound to.
	Interface string
}

// errLinkChanged ends a listening session when the interface was
// re-created or changed its MAC.
var errLinkChanged = errors.New("interface changed")

// Stats are cumulative counters of a Guard.
type Stats struct {
	// Reported is the number of claims delivered to the Claims channel.
	Reported uint64
	// Dropped is the number of claims dropped because the channel was full.
	Dropped uint64
	// Opens is the number of times Start opened its listeners.
	Opens uint64
	// Errors is the number of failed opens and of read errors.
	Errors uint64
}

// A Guard watches a link for other nodes claiming the VIPs we hold, and
// probes whether a VIP is in use. Create it with New; its methods are safe
// for concurrent use.
type Guard struct {
	cfg    Config
	log    *slog.Logger
	claims chan Claim

	// Injected so tests can run without root and without a real link.
	lookupInterface ether.Lookup
	openARP         func(ifi *net.Interface) (frameConn, error)
	openNDP         func(ifi *net.Interface) (frameConn, error)
	openGroups      func(ifi *net.Interface) (groupConn, error)

	// watched is the set reported on; replaced by Watch, never modified.
	watched atomic.Pointer[addrSet]
	// wake tells Start's loop that the watched set changed. Capacity 1,
	// sent to without blocking.
	wake chan struct{}

	reported, dropped, opens, errs atomic.Uint64
}

// New returns a Guard for cfg. It starts nothing and opens nothing.
func New(cfg Config, log *slog.Logger) *Guard {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Guard{
		cfg:             cfg,
		log:             log.With("component", "guard", "interface", cfg.Interface),
		claims:          make(chan Claim, claimsBuffer),
		lookupInterface: net.InterfaceByName,
		openARP:         openARP,
		openNDP:         openNDP,
		openGroups:      openGroups,
		wake:            make(chan struct{}, 1),
	}
	g.watched.Store(&addrSet{})
	return g
}

// Claims returns the channel on which Start reports claims on watched
// addresses. It is never closed. Claims already queued when Watch changes
// the set are not withdrawn: the receiver checks a claim's Addr against
// what it holds.
func (g *Guard) Claims() <-chan Claim { return g.claims }

// Watch replaces the set of addresses to guard: the VIPs we hold now. nil
// or empty means none, and nothing is reported. IPv4-mapped IPv6
// addresses are treated as IPv4; invalid, unspecified and multicast
// addresses are ignored.
func (g *Guard) Watch(addrs []netip.Addr) {
	set := newAddrSet(g.normalize(addrs))
	g.watched.Store(&set)
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// Stats returns a snapshot of the counters; the daemon exports them as
// metrics (metrics.AddGuard).
func (g *Guard) Stats() Stats {
	return Stats{
		Reported: g.reported.Load(),
		Dropped:  g.dropped.Load(),
		Opens:    g.opens.Load(),
		Errors:   g.errs.Load(),
	}
}

// report delivers c unless the channel is full or c's address is no longer
// watched. It never blocks.
func (g *Guard) report(c Claim) {
	if !g.watched.Load().has(c.Addr) {
		return // Watch changed the set while the frame was classified
	}
	select {
	case g.claims <- c:
		g.reported.Add(1)
		g.log.Debug("claim on watched address", "vip", c.Addr, "mac", c.MAC.String(), "kind", c.Kind)
	default:
		g.dropped.Add(1)
	}
}

// link looks the interface up and checks that it has an Ethernet address.
func (g *Guard) link() (*net.Interface, error) {
	return ether.Link(g.lookupInterface, g.cfg.Interface)
}

// normalize unmaps, validates and de-duplicates addrs, keeping their order.
func (g *Guard) normalize(addrs []netip.Addr) []netip.Addr {
	set, ignored := ether.Normalize(addrs)
	for _, ip := range ignored {
		g.log.Warn("ignoring address that cannot be guarded", "vip", ip)
	}
	return set
}
