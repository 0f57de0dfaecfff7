package links

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vipkeeper/vipkeeper/pkg/guard"
	"github.com/vipkeeper/vipkeeper/pkg/vip"
)

// binder holds the addresses of one interface (pkg/vip).
type binder interface {
	Set(ctx context.Context, want []vip.Want) ([]netip.Addr, error)
}

// announcer announces the addresses of one interface (pkg/announce).
type announcer interface {
	Announce(addrs, fresh []netip.Addr)
}

// guardian watches and probes one interface (pkg/guard).
type guardian interface {
	Watch(addrs []netip.Addr)
	Probe(ctx context.Context, addrs []netip.Addr, wait time.Duration) ([]guard.Claim, error)
}

// Plane is the data plane of one interface.
type Plane struct {
	Binder    binder
	Announcer announcer
	Guard     guardian
	// Start runs the plane's components until ctx ends (their Start
	// methods, the forwarding of the guard's claims, the witness, the
	// link watch). Nil for the default plane, whose components the daemon
	// runs itself.
	Start func(ctx context.Context) error
}

// Config configures Links.
type Config struct {
	// Default is the daemon's --interface; Plane is its data plane.
	Default string
	Plane   Plane
	// Build makes the plane of another interface; its witness reports
	// to heard. It starts nothing: Links runs the plane's Start.
	Build func(iface string, heard func(time.Time)) Plane
	// Report is told, in order, the oldest of the latest instants a peer
	// was heard on the default interface and on every other interface
	// that holds addresses (see Heard). May be empty.
	Report []func(heard time.Time)
	// WatchLink reports the state of the link iface now and on every
	// change until ctx ends (health.WatchLink); OnLink is told. Use
	// watches every interface it is given, the default one included.
	WatchLink func(ctx context.Context, iface string, report func(up bool, why string))
	OnLink    func(iface string, up bool)
}

// Links sends every address to the plane of its interface. Build it with
// New; it is safe for concurrent use.
type Links struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	planes  map[string]*Plane
	routes  map[netip.Addr]string // addresses not on the default interface
	holding map[string]bool       // interfaces whose binder holds addresses
	heard   map[string]time.Time  // the latest instant a peer was heard, by interface
	sent    time.Time             // the last aggregate reported
	watched map[string]bool       // interfaces whose links are watched
	// What the announcers and guards were last given, and on which
	// interface each address went: Set moves them when a route changed.
	announced, guarded []netip.Addr
	sentTo             map[netip.Addr]string
	pending            []func(context.Context) // what Start has yet to run
	wake               chan struct{}           // pending grew; capacity 1
}

// New returns Links over the default plane; it starts nothing.
func New(cfg Config, log *slog.Logger) *Links {
	return &Links{
		cfg:     cfg,
		log:     log.With("component", "links"),
		planes:  map[string]*Plane{cfg.Default: &cfg.Plane},
		routes:  map[netip.Addr]string{},
		holding: map[string]bool{},
		heard:   map[string]time.Time{},
		watched: map[string]bool{},
		sentTo:  map[netip.Addr]string{},
		wake:    make(chan struct{}, 1),
	}
}

// Start runs the planes of the other interfaces as they are built, until
// ctx ends; it returns once they have stopped.
func (l *Links) Start(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-l.wake:
			l.mu.Lock()
			todo := l.pending
			l.pending = nil
			l.mu.Unlock()
			for _, run := range todo {
				wg.Go(func() { run(ctx) })
			}
		}
	}
}

// Use starts the planes of ifaces now, ahead of any address: their link
// watches report whether the node can serve the pools on them.
func (l *Links) Use(ifaces []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, i := range ifaces {
		l.planeLocked(i)
		if l.watched[i] || l.cfg.WatchLink == nil {
			continue
		}
		l.watched[i] = true
		l.runLocked(func(ctx context.Context) {
			l.cfg.WatchLink(ctx, i, func(up bool, why string) {
				if up {
					l.log.Info("pool interface up", "interface", i)
				} else {
					l.log.Warn("pool interface down", "interface", i, "why", why)
				}
				if l.cfg.OnLink != nil {
					l.cfg.OnLink(i, up)
				}
			})
		})
	}
}

// runLocked queues run for Start.
func (l *Links) runLocked(run func(context.Context)) {
	l.pending = append(l.pending, run)
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Route replaces the routes: the interface of each address that is not
// on the default interface. The next Set, Announce, Watch and Probe
// follow them.
func (l *Links) Route(routes map[netip.Addr]string) {
	next := make(map[netip.Addr]string, len(routes))
	for a, i := range routes {
		if i != "" && i != l.cfg.Default {
			next[a.Unmap()] = i
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.routes = next
}

// Set hands every plane's binder its share of want, and returns the
// addresses they added. Every plane is set, so an address that moved to
// another interface, or left, is removed from the plane that had it.
func (l *Links) Set(ctx context.Context, want []vip.Want) ([]netip.Addr, error) {
	l.mu.Lock()
	byIface := map[string][]vip.Want{}
	for _, w := range want {
		i := l.routeLocked(w.Addr)
		byIface[i] = append(byIface[i], w)
	}
	planes := planesFor(l, byIface)
	for i := range planes {
		if i != l.cfg.Default && len(byIface[i]) == 0 && !l.holding[i] {
			delete(planes, i) // held nothing and gets nothing: no need to read its kernel
			continue
		}
		l.holding[i] = len(byIface[i]) > 0
	}
	l.mu.Unlock()
	var added []netip.Addr
	var errs []error
	for _, i := range slices.Sorted(maps.Keys(planes)) {
		a, err := planes[i].Binder.Set(ctx, byIface[i])
		added = append(added, a...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	l.report()
	l.follow()
	return added, errors.Join(errs...)
}

// follow moves what the announcers and guards were given to the
// interfaces the routes now name, if any moved: a pool whose interface
// changed while its addresses stay bound. The moved addresses get a
// takeover burst on their new link.
func (l *Links) follow() {
	l.mu.Lock()
	var moved []netip.Addr
	for _, a := range l.announced {
		if l.routeLocked(a) != l.sentTo[a] {
			moved = append(moved, a)
		}
	}
	announced, guarded := l.announced, l.guarded
	l.mu.Unlock()
	if len(moved) == 0 {
		return
	}
	l.log.Info("addresses moved to another interface", "addrs", moved)
	l.Announce(announced, moved)
	l.Watch(guarded)
}

// Announce hands every plane's announcer its share of addrs and fresh.
func (l *Links) Announce(addrs, fresh []netip.Addr) {
	l.mu.Lock()
	all, burst := l.split(addrs), l.split(fresh)
	planes := planesFor(l, all)
	l.announced = slices.Clone(addrs)
	clear(l.sentTo)
	for i, as := range all {
		for _, a := range as {
			l.sentTo[a] = i
		}
	}
	l.mu.Unlock()
	for i, p := range planes {
		p.Announcer.Announce(all[i], burst[i])
	}
}

// Watch hands every plane's guard its share of addrs.
func (l *Links) Watch(addrs []netip.Addr) {
	l.mu.Lock()
	all := l.split(addrs)
	planes := planesFor(l, all)
	l.guarded = slices.Clone(addrs)
	l.mu.Unlock()
	for i, p := range planes {
		p.Guard.Watch(all[i])
	}
}

// Probe probes each address on its interface, all interfaces at once,
// and returns every answer.
func (l *Links) Probe(ctx context.Context, addrs []netip.Addr, wait time.Duration) ([]guard.Claim, error) {
	l.mu.Lock()
	all := l.split(addrs)
	planes := planesFor(l, all)
	l.mu.Unlock()
	type result struct {
		claims []guard.Claim
		err    error
	}
	results := make(chan result, len(all))
	for i, a := range all {
		go func() {
			c, err := planes[i].Guard.Probe(ctx, a, wait)
			results <- result{c, err}
		}()
	}
	var claims []guard.Claim
	var errs []error
	for range all {
		r := <-results
		claims = append(claims, r.claims...)
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	return claims, errors.Join(errs...)
}

// Heard is the witness report of iface's plane: the latest instant a peer
// was heard there.
func (l *Links) Heard(iface string) func(time.Time) {
	return func(at time.Time) {
		l.mu.Lock()
		if at.After(l.heard[iface]) {
			l.heard[iface] = at
		}
		l.mu.Unlock()
		l.report()
	}
}

// report tells Config.Report the aggregate evidence when it moved on.
func (l *Links) report() {
	l.mu.Lock()
	agg := l.heard[l.cfg.Default]
	for i, h := range l.holding {
		if h && i != l.cfg.Default && l.heard[i].Before(agg) {
			agg = l.heard[i]
		}
	}
	if agg.IsZero() || !agg.After(l.sent) {
		l.mu.Unlock()
		return
	}
	l.sent = agg
	l.mu.Unlock()
	for _, r := range l.cfg.Report {
		r(agg)
	}
}

// routeLocked is the interface of a.
func (l *Links) routeLocked(a netip.Addr) string {
	if i, ok := l.routes[a.Unmap()]; ok {
		return i
	}
	return l.cfg.Default
}

// split groups addrs by interface.
func (l *Links) split(addrs []netip.Addr) map[string][]netip.Addr {
	out := map[string][]netip.Addr{}
	for _, a := range addrs {
		i := l.routeLocked(a)
		out[i] = append(out[i], a)
	}
	return out
}

// planesFor is every plane, with one built for each interface of byIface
// that has none yet.
func planesFor[T any](l *Links, byIface map[string]T) map[string]*Plane {
	for i := range byIface {
		l.planeLocked(i)
	}
	return maps.Clone(l.planes)
}

// planeLocked is iface's plane, built and queued for Start if new.
func (l *Links) planeLocked(iface string) *Plane {
	if p, ok := l.planes[iface]; ok {
		return p
	}
	p := l.cfg.Build(iface, l.Heard(iface))
	l.planes[iface] = &p
	l.runLocked(func(ctx context.Context) {
		l.log.Info("starting the data plane of a pool's interface", "interface", iface)
		if err := p.Start(ctx); err != nil {
			l.log.Error("data plane stopped", "interface", iface, "err", err)
		}
	})
	return &p
}
