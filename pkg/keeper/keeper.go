package keeper

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/vipkeeper/vipkeeper/pkg/election"
)

// binder owns the node's VIP addresses (pkg/vip).
type binder interface {
	// Set replaces the desired addresses and applies them to the kernel
	// now, returning the ones it added.
	Set(ctx context.Context, addrs []netip.Addr) ([]netip.Addr, error)
}

// announcer sends gratuitous ARP and unsolicited NA (pkg/announce).
type announcer interface {
	Takeover(addrs []netip.Addr)
	Withdraw()
}

// Config is the keeper's part of the node's configuration.
type Config struct {
	VIPs []netip.Addr
	// ReleaseTimeout bounds how long shutdown waits for the election to
	// release the lease after the VIP is gone.
	ReleaseTimeout time.Duration
}

// Keeper is the one loop that owns the node's state: whether this node
// leads, and so whether the VIP is bound and announced. Everything else
// (election callbacks, the binder's restore notices, shutdown) reaches it as
// an event.
type Keeper struct {
	cfg       Config
	binder    binder
	announcer announcer
	elect     func(context.Context) error
	log       *slog.Logger
	now       func() time.Time

	events chan event
	done   chan struct{} // closed when Start returns; unblocks senders

	// State below is owned by the loop goroutine (Start) alone.
	leading  bool
	term     uint64 // the term we lead, while leading
	lostUpTo uint64 // every term <= lostUpTo has ended
	leader   string // the holder last reported by the election
	since    time.Time
}

// event is what the loop consumes: an election event or a restore notice.
type event struct {
	election *election.Event
	restored netip.Addr
}

// New returns a Keeper. elect runs the election until its context ends
// (election.Elector.Start); the keeper owns its lifetime so that shutdown
// can unbind first and release the lease second.
func New(cfg Config, b binder, a announcer, elect func(context.Context) error, log *slog.Logger) *Keeper {
	return &Keeper{
		cfg:       cfg,
		binder:    b,
		announcer: a,
		elect:     elect,
		log:       log.With("component", "keeper"),
		now:       time.Now,
		// Election events are few (a handful per term); the buffer lets
		// client-go's callbacks return while the loop is binding.
		events: make(chan event, 16),
		done:   make(chan struct{}),
	}
}

// Notify hands an election event to the loop. It is the election's notify
// function; it returns at once when the loop has stopped.
func (k *Keeper) Notify(ev election.Event) {
	k.send(event{election: &ev})
}

// Restored tells the loop that the binder re-added addr after someone
// removed it, so that it is announced again.
func (k *Keeper) Restored(addr netip.Addr) {
	k.send(event{restored: addr})
}

func (k *Keeper) send(ev event) {
	select {
	case k.events <- ev:
	case <-k.done:
	}
}

// Start runs the election and the loop until ctx ends, then shuts down in
// the order that lets a peer take over at once: withdraw and unbind the VIP,
// then stop the election, which releases the lease.
func (k *Keeper) Start(ctx context.Context) error {
	defer close(k.done)
	electCtx, stopElection := context.WithCancel(context.WithoutCancel(ctx))
	defer stopElection()
	electDone := make(chan error, 1)
	go func() { electDone <- k.elect(electCtx) }()

	for {
		select {
		case <-ctx.Done():
			k.stepDown(context.WithoutCancel(ctx), "shutdown")
			stopElection()
			return k.waitElection(electDone)
		case err := <-electDone:
			// The election only returns on its context's end; anything
			// else is a bug or a broken configuration: stop serving.
			k.stepDown(context.WithoutCancel(ctx), "election stopped")
			return err
		case ev := <-k.events:
			k.handle(ctx, ev)
		}
	}
}

func (k *Keeper) waitElection(done <-chan error) error {
	timeout := k.cfg.ReleaseTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		k.log.Warn("election did not stop in time; the lease will expire instead of being released", "timeout", timeout)
		return nil
	}
}

func (k *Keeper) handle(ctx context.Context, ev event) {
	if ev.election == nil {
		if k.leading {
			k.log.Info("VIP restored after external removal; announcing", "vip", ev.restored)
			k.announcer.Takeover(k.cfg.VIPs)
		}
		return
	}
	e := *ev.election
	switch e.Kind {
	case election.Elected:
		if e.Term <= k.lostUpTo {
			k.log.Debug("ignoring election of an ended term", "term", e.Term)
			return
		}
		// Terms run one after another: a new term means every earlier
		// one has ended, even if its Lost is still on its way.
		k.lostUpTo = max(k.lostUpTo, e.Term-1)
		if k.leading {
			k.term = e.Term
			return
		}
		k.takeOver(ctx, e.Term)
	case election.Lost:
		if e.Term > k.lostUpTo {
			k.lostUpTo = e.Term
		}
		if k.leading && k.term <= e.Term {
			k.stepDown(ctx, "lease lost")
		}
	case election.Leader:
		if e.Identity != k.leader {
			k.log.Info("leader observed", "leader", e.Identity)
			k.leader = e.Identity
		}
	}
}

func (k *Keeper) takeOver(ctx context.Context, term uint64) {
	start := k.now()
	k.leading, k.term, k.since = true, term, start
	added, err := k.binder.Set(ctx, k.cfg.VIPs)
	if err != nil {
		// The binder keeps the desired set and retries on its own
		// schedule; announce what is there so clients move now.
		k.log.Error("binding VIP failed; the binder will retry", "vip", k.cfg.VIPs, "err", err)
	}
	k.announcer.Takeover(k.cfg.VIPs)
	k.log.Info("became leader; VIP bound", "vip", k.cfg.VIPs, "added", added, "term", term,
		"took_ms", k.now().Sub(start).Milliseconds())
}

func (k *Keeper) stepDown(ctx context.Context, reason string) {
	if !k.leading {
		// Still make sure nothing of ours is bound: a stale address from
		// an earlier run is the binder's to remove, and Set(nil) is cheap.
		if _, err := k.binder.Set(ctx, nil); err != nil {
			k.log.Warn("clearing VIPs failed", "reason", reason, "err", err)
		}
		return
	}
	start := k.now()
	k.leading = false
	k.announcer.Withdraw()
	if _, err := k.binder.Set(ctx, nil); err != nil {
		k.log.Error("unbinding VIP failed", "vip", k.cfg.VIPs, "reason", reason, "err", err)
	}
	k.log.Info("stepped down; VIP unbound", "vip", k.cfg.VIPs, "reason", reason,
		"led_for", k.now().Sub(k.since).Round(time.Millisecond), "took_ms", k.now().Sub(start).Milliseconds())
}
