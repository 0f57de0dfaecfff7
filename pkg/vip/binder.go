package vip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vipkeeper/vipkeeper/internal/nlsub"
)

// Protocol is the IFA_PROTO value stamped on every address the binder adds.
// The kernel uses 0–3 itself (IFAPROT_UNSPEC, IFAPROT_KERNEL_LO, _RA, _LL);
// 0x56 is ASCII 'V'. It survives a restart of vipkeeper, so a new process can
// tell its own leftovers from an administrator's identical address.
const Protocol = 0x56

// DefaultReconcileInterval is used when Config.ReconcileInterval is zero.
const DefaultReconcileInterval = 10 * time.Second

// resubscribeDelay is the pause before subscribing to address events again
// after a failed attempt or a closed subscription; the reconcile that
// follows every attempt covers the gap.
const resubscribeDelay = time.Second

// updateBuffer lets the netlink reader run ahead of a reconcile without
// blocking; bursts are coalesced into one reconcile anyway.
const updateBuffer = 64

// DefaultLateness is used when Config.Lateness is zero: how late the kernel
// may remove an address whose valid lifetime ran out. Measured on Linux
// 6.18 (BenchmarkKernelExpiryLateness): 15–31 ms (median) when the address
// is alone, 0.91 s (median, 0.95 s at most) when neighbouring addresses
// were refreshed just before, which reschedules the kernel's expiry check
// a whole second later; 1.5 s leaves half a second of room for a loaded
// machine.
const DefaultLateness = 1500 * time.Millisecond

// ErrInterfaceNotFound is returned (wrapped) when the configured interface
// does not exist.
var ErrInterfaceNotFound = errors.New("interface not found")

// ErrInvalidAddr is returned (wrapped) by Set for an invalid or zoned address.
var ErrInvalidAddr = errors.New("invalid address")

// Config configures a Binder.
type Config struct {
	Interface         string        // e.g. "eth0"
	ReconcileInterval time.Duration // periodic re-check of the kernel; DefaultReconcileInterval if zero
	// Lateness is how late the kernel may remove an expired address;
	// DefaultLateness if zero. Every lifetime the binder gives an address
	// ends this long before the address's deadline.
	Lateness time.Duration
	// OnRestored is called with an address that Start re-added because
	// someone else removed it while it was desired. It is called from
	// Start's goroutine, outside any lock, and must return quickly. A removal
	// that Set finds is reported in Set's result instead. May be nil.
	OnRestored func(netip.Addr)
}

// Binder owns the VIPs on one interface. Create it with New; it is safe for
// concurrent use.
type Binder struct {
	cfg Config
	nl  netlinker
	log *slog.Logger

	// sem serialises reconciles and guards the fields below it. It is a
	// channel rather than a sync.Mutex so that Set can give up when its
	// context ends.
	sem     chan struct{}
	desired map[netip.Addr]time.Time // address → deadline (zero: none)
	seen    map[netip.Addr]struct{}  // desired addresses the kernel held after the last reconcile
	expiry  map[netip.Addr]time.Time // when the kernel ends the lifetime we last gave a desired address
	warned  map[netip.Addr]struct{}  // desired addresses held by someone else, already warned about
	lastErr string                   // last reconcile error logged by Start, to log each error once

	mu      sync.Mutex              // guards the fields below; never held across netlink calls
	ifindex int                     // interface index at the last reconcile, 0 if unknown
	watch   map[netip.Addr]struct{} // addresses whose events matter: desired and ours
	kept    map[netip.Addr]struct{} // desired addresses that were ours at the last reconcile
	expired uint64                  // desired addresses the kernel expired, since New
}

// Want is one address the binder must hold, and until when.
type Want struct {
	Addr netip.Addr
	// Until is the deadline of the decision that keeps the address: the
	// kernel drops it by then on its own (Config.Lateness included), even
	// if this process is frozen or dead. Zero: no deadline, valid
	// forever (only for addresses no lease decides).
	Until time.Time
}

// New returns a Binder for cfg.Interface that uses rtnetlink in the caller's
// network namespace. It starts nothing.
func New(cfg Config, log *slog.Logger) *Binder {
	return newWithNetlink(cfg, kernel{ns: netns.None()}, log)
}

func newWithNetlink(cfg Config, nl netlinker, log *slog.Logger) *Binder {
	if cfg.ReconcileInterval <= 0 {
		cfg.ReconcileInterval = DefaultReconcileInterval
	}
	if cfg.Lateness <= 0 {
		cfg.Lateness = DefaultLateness
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Binder{
		cfg:     cfg,
		nl:      nl,
		log:     log.With("component", "vip", "interface", cfg.Interface),
		sem:     make(chan struct{}, 1),
		desired: map[netip.Addr]time.Time{},
		seen:    map[netip.Addr]struct{}{},
		expiry:  map[netip.Addr]time.Time{},
		warned:  map[netip.Addr]struct{}{},
	}
}

// Set replaces the desired addresses and their deadlines and reconciles at
// once: it adds what is missing and refreshes the lifetimes of what is
// there. It returns the addresses it added now; a desired address that is
// already present (ours or someone else's) is not in it. If ctx ends while
// another reconcile runs, Set returns ctx.Err() and the desired set is
// unchanged. An error from the kernel leaves the new desired set in place;
// Start retries it. An address given twice keeps its later deadline.
func (b *Binder) Set(ctx context.Context, want []Want) (added []netip.Addr, err error) {
	desired := make(map[netip.Addr]time.Time, len(want))
	for _, w := range want {
		a := w.Addr
		if !a.IsValid() || a.Zone() != "" {
			return nil, fmt.Errorf("set vips: %w: %q", ErrInvalidAddr, a)
		}
		if u, ok := desired[a.Unmap()]; !ok || (!u.IsZero() && w.Until.After(u)) || w.Until.IsZero() {
			desired[a.Unmap()] = w.Until
		}
	}
	select {
	case b.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-b.sem }()
	b.desired = desired
	added, _, err = b.reconcileLocked()
	return added, err
}

// Start reconciles once (which removes addresses of ours left by a previous
// run unless Set already asked for them), then again on every relevant address
// event and every ReconcileInterval, until ctx ends. It returns nil then.
// Reconcile errors are logged and retried. Call Start once.
func (b *Binder) Start(ctx context.Context) error {
	b.log.Info("starting", "reconcile_interval", b.cfg.ReconcileInterval, "lateness", b.cfg.Lateness)
	// due says a reconcile is due. Its capacity of 1 coalesces a burst of
	// events into one reconcile.
	due := make(chan struct{}, 1)
	poke := func() {
		select {
		case due <- struct{}{}:
		default:
		}
	}
	events := nlsub.Config[netlink.AddrUpdate]{
		Subscribe:  b.nl.AddrSubscribe,
		Events:     "address",
		Buffer:     updateBuffer,
		RetryDelay: resubscribeDelay,
		Log:        b.log,
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	// The subscription comes before the first reconcile (nlsub syncs only
	// after subscribing), so that no change falls between; every
	// resubscription is followed by a reconcile, since events may have been
	// missed.
	wg.Go(func() {
		nlsub.Run(ctx, events, poke, func(u netlink.AddrUpdate) {
			if b.relevant(u) {
				poke()
			}
		})
	})

	ticker := time.NewTicker(b.cfg.ReconcileInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			b.log.Info("stopped")
			return nil
		case <-ticker.C:
			b.reconcileAndNotify(ctx)
		case <-due:
			b.reconcileAndNotify(ctx)
		}
	}
}

func (b *Binder) relevant(u netlink.AddrUpdate) bool {
	ip, ok := netip.AddrFromSlice(u.LinkAddress.IP)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ifindex == 0 {
		return true
	}
	if u.LinkIndex == b.ifindex {
		// A refresh of one of our own desired addresses (a replace of its
		// lifetime) is ours: reconciling for it would turn every refresh
		// of 1,000 Service VIPs into 1,000 reconciles. Its removal (the
		// kernel expired it, or someone deleted it) still counts.
		_, kept := b.kept[ip.Unmap()]
		return !(ok && u.NewAddr && kept)
	}
	_, watched := b.watch[ip.Unmap()]
	return ok && watched
}

// reconcileAndNotify reconciles for Start, logs errors and calls OnRestored.
func (b *Binder) reconcileAndNotify(ctx context.Context) {
	select {
	case b.sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	_, restored, err := b.reconcileLocked()
	var msg string
	if err != nil {
		msg = err.Error()
	}
	logIt := msg != b.lastErr
	b.lastErr = msg
	<-b.sem

	switch {
	case err != nil && logIt:
		b.log.Error("reconcile failed", "err", err)
	case err != nil:
		b.log.Debug("reconcile failed again", "err", err)
	case logIt:
		b.log.Info("reconcile recovered")
	}
	if b.cfg.OnRestored != nil {
		for _, a := range restored {
			b.cfg.OnRestored(a)
		}
	}
}

// reconcileLocked reads the kernel and applies the difference to the desired
// set. It returns the addresses it added and, among them, those that the last
// reconcile had seen present (someone removed them). The caller holds sem.
func (b *Binder) reconcileLocked() (added, restored []netip.Addr, err error) {
	index, addrs, err := b.nl.AddrList(b.cfg.Interface)
	if err != nil {
		if errors.Is(err, ErrInterfaceNotFound) {
			b.publish(0, nil)
		}
		return nil, nil, fmt.Errorf("read addresses of %s: %w", b.cfg.Interface, err)
	}

	now := time.Now()
	held := map[netip.Addr]holder{}
	mine := map[netip.Addr]kernelAddr{}
	var stale []kernelAddr
	for _, a := range addrs {
		ip := a.Prefix.Addr()
		if a.Proto != Protocol {
			held[ip] |= heldForeign
			continue
		}
		held[ip] |= heldOurs
		mine[ip] = a
		if _, ok := b.desired[ip]; !ok {
			stale = append(stale, a)
		}
	}

	var errs []error
	seen := map[netip.Addr]struct{}{}
	for _, ip := range slices.SortedFunc(maps.Keys(b.desired), netip.Addr.Compare) {
		lft, ok := Lifetime(b.desired[ip], now, b.cfg.Lateness)
		switch h := held[ip]; {
		case h&heldOurs != 0:
			seen[ip] = struct{}{}
			prev, known := b.expiry[ip]
			if cur := mine[ip]; ok && needsRefresh(cur.ValidLft, lft, prev, known, now) {
				if err := b.nl.AddrReplace(index, withLifetime(ip, cur.Prefix, lft)); err != nil {
					errs = append(errs, fmt.Errorf("refresh %s on %s: %w", ip, b.cfg.Interface, err))
				} else {
					b.expiry[ip] = expiryOf(now, lft)
				}
			}
		case h&heldForeign != 0:
			seen[ip] = struct{}{}
			if _, ok := b.warned[ip]; !ok {
				b.warned[ip] = struct{}{}
				b.log.Warn("vip is already on the interface without our protocol; leaving it alone", "addr", ip)
			}
		case !ok:
			// Too close to its deadline to be given a lifetime: the
			// decision that keeps it is about to end. If it was here, the
			// kernel expired it (or someone removed it as it was about
			// to): never put it back.
			if _, wasSeen := b.seen[ip]; wasSeen {
				b.mu.Lock()
				b.expired++
				b.mu.Unlock()
				b.log.Warn("vip expired in the kernel at its deadline; not restoring it", "addr", ip,
					"deadline_in", b.desired[ip].Sub(now).Round(time.Millisecond))
			}
		default:
			_, wasSeen := b.seen[ip]
			err := b.nl.AddrAdd(index, withLifetime(ip, netip.PrefixFrom(ip, ip.BitLen()), lft))
			switch {
			case errors.Is(err, unix.EEXIST):
				// Added by someone between our dump and our add; the next
				// reconcile tells whose it is.
				seen[ip] = struct{}{}
				b.log.Debug("vip appeared while adding it", "addr", ip)
			case err != nil:
				errs = append(errs, fmt.Errorf("add %s to %s: %w", ip, b.cfg.Interface, err))
			default:
				seen[ip] = struct{}{}
				b.expiry[ip] = expiryOf(now, lft)
				added = append(added, ip)
				if wasSeen {
					restored = append(restored, ip)
					b.log.Warn("vip was removed by someone else; restored it", "addr", ip)
				} else {
					b.log.Info("added vip", "addr", ip)
				}
			}
		}
	}
	for ip := range b.warned {
		if held[ip]&heldForeign == 0 || !isDesired(b.desired, ip) {
			delete(b.warned, ip)
		}
	}

	for _, a := range stale {
		err := b.nl.AddrDel(index, a)
		switch {
		case errors.Is(err, unix.EADDRNOTAVAIL), errors.Is(err, unix.ENOENT):
			// Already gone.
		case err != nil:
			errs = append(errs, fmt.Errorf("delete %s from %s: %w", a.Prefix, b.cfg.Interface, err))
		default:
			b.log.Info("removed vip", "addr", a.Prefix)
		}
	}

	for ip := range b.expiry {
		if _, ok := seen[ip]; !ok {
			delete(b.expiry, ip)
		}
	}
	b.seen = seen
	b.publish(index, held)
	return added, restored, errors.Join(errs...)
}

// publish records what relevant reads. held maps addresses on the
// interface to who holds them.
func (b *Binder) publish(index int, held map[netip.Addr]holder) {
	watch := make(map[netip.Addr]struct{}, len(b.desired))
	kept := map[netip.Addr]struct{}{}
	for ip := range b.desired {
		watch[ip] = struct{}{}
		if held[ip] == heldOurs {
			kept[ip] = struct{}{}
		}
	}
	for ip, h := range held {
		if h&heldOurs != 0 {
			watch[ip] = struct{}{}
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ifindex, b.watch, b.kept = index, watch, kept
}

// Expired is the number of desired addresses the kernel removed at the end
// of their lifetime (and the binder did not restore), since New.
func (b *Binder) Expired() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.expired
}

// holder tells who holds an address on the interface; both bits can be set
// when the same IP is there twice with different prefix lengths.
type holder uint8

const (
	heldOurs    holder = 1 << iota // carries Protocol
	heldForeign                    // anything else
)

func isDesired(desired map[netip.Addr]time.Time, ip netip.Addr) bool {
	_, ok := desired[ip]
	return ok
}

// withLifetime is vipAddr on prefix with a valid lifetime of lft seconds.
// Adds and refreshes send the same flags and Protocol: a replace without
// IFA_PROTO would reset the protocol to 0.
func withLifetime(ip netip.Addr, prefix netip.Prefix, lft uint32) kernelAddr {
	a := vipAddr(ip)
	a.Prefix, a.ValidLft = prefix, lft
	return a
}

// vipAddr is how a VIP is added: a host prefix that is never preferred as a
// source address, valid forever, marked with Protocol; IPv6 without DAD.
func vipAddr(ip netip.Addr) kernelAddr {
	a := kernelAddr{
		Prefix:       netip.PrefixFrom(ip, ip.BitLen()),
		Scope:        unix.RT_SCOPE_UNIVERSE,
		Proto:        Protocol,
		PreferredLft: 0,
		ValidLft:     infiniteLifetime,
	}
	if ip.Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}
