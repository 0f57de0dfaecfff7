package keeper

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/vipkeeper/vipkeeper/pkg/tenure"
)

// binder owns the node's VIP addresses (pkg/vip).
type binder interface {
	// Set replaces the desired addresses and applies them to the kernel
	// now, returning the ones it added.
	Set(ctx context.Context, addrs []netip.Addr) ([]netip.Addr, error)
}

// announcer sends gratuitous ARP and unsolicited NA (pkg/announce).
type announcer interface {
	// Announce makes addrs the announced set; the addresses in fresh get
	// a takeover burst, starting before it returns. Addresses left out
	// are never sent again once it returns.
	Announce(addrs, fresh []netip.Addr)
}

// candidacy lets the loop leave and rejoin the election (pkg/election).
type candidacy interface {
	SetCandidate(bool)
}

// guard watches for other nodes claiming the VIPs we hold and probes for
// a current holder before we bind (pkg/guard). Optional.
type guard interface {
	Watch(addrs []netip.Addr)
	// Probe returns the MACs of other hosts that answered for addrs.
	Probe(ctx context.Context, addrs []netip.Addr, wait time.Duration) ([]net.HardwareAddr, error)
}

// OutagePolicy says what a holder does when it cannot renew because the
// API server is unreachable.
type OutagePolicy string

const (
	// Hold keeps the VIP while the API server is unreachable from this node
	// and no other node claims the VIP on the wire.
	Hold OutagePolicy = "hold"
	// Release drops the VIP before the lease can expire, whatever the cause.
	Release OutagePolicy = "release"
)

// Config is the keeper's part of the node's configuration.
type Config struct {
	Identity string
	VIPs     []netip.Addr
	// LeaseDuration and SafetyMargin set the holder's own deadline: the
	// VIP is gone by (start of the last successful renewal) + LeaseDuration
	// − SafetyMargin, before any follower can judge the lease expired.
	LeaseDuration time.Duration
	SafetyMargin  time.Duration
	// RenewDeadline bounds how long a holder riding through an outage
	// waits, once the API is back, to renew its own lease.
	RenewDeadline time.Duration
	OnOutage      OutagePolicy
	// ProbeWait is how long one pre-bind probe round waits for answers;
	// ProbeBudget bounds all rounds (then we bind and announce anyway).
	ProbeWait, ProbeBudget time.Duration
	// Healthy is the node's health before the first report.
	Healthy bool
	// CheckAPIServer makes the readiness of this node's own API server
	// (APIServerReady reports, --api-server-check) a condition of the
	// control-plane VIP's candidacy; it starts not ready.
	CheckAPIServer bool
	// ReleaseTimeout bounds how long shutdown waits for the election to
	// release the lease after the VIP is gone.
	ReleaseTimeout time.Duration
}

// rules is the tenure's configuration: the same rules as every other
// holder of addresses.
func (c Config) rules() tenure.Config {
	return tenure.Config{
		LeaseDuration: c.LeaseDuration,
		SafetyMargin:  c.SafetyMargin,
		RenewDeadline: c.RenewDeadline,
		Hold:          c.OnOutage == Hold,
		ProbeBudget:   c.ProbeBudget,
	}
}

// Deps are the components the loop drives. Guard may be nil.
type Deps struct {
	Binder    binder
	Announcer announcer
	Election  candidacy
	Guard     guard
	// Elect runs the election until its context ends.
	Elect func(context.Context) error
	// Observer, if not nil, is told about every transition (metrics,
	// Kubernetes Events).
	Observer Observer
}

// Keeper is the one loop that owns the node's state: whether this node
// leads, holds the VIP and may campaign. Everything else — election
// callbacks, health and API reachability changes, claims seen on the wire,
// the binder's restore notices, shutdown — reaches it as an event.
type Keeper struct {
	*Inbox // the loop's inputs; closed when Start returns

	cfg  Config
	deps Deps
	log  *slog.Logger
	now  func() time.Time

	// State below is owned by the loop goroutine (Start) alone.
	tenure      *tenure.Tenure // term, deadline, ride-through: the shared rules
	standing    standing       // health and local API server: the candidacy's inputs
	acquired    bool           // Acquired was reported and Lost not yet
	leader      string         // the holder last reported by the election
	bound       bool           // the VIP is ours on this node
	heldTerm    uint64         // the term we bound or kept the VIP under
	probing     uint64         // term whose pre-bind probe is under way, 0 if none
	cancelProbe context.CancelFunc
	recheck     *time.Timer // when the tenure's verdict must be asked again
	since       time.Time
	ridingSince time.Time
	// svc is the Service VIPs the services controller may bind now
	// (SetServiceVIPs); bound only while the node is healthy.
	svc       []netip.Addr
	announced []netip.Addr // the set last handed to the announcer and guard
}

// New returns a Keeper reading in (a new Inbox if nil); it starts nothing.
func New(cfg Config, deps Deps, in *Inbox, log *slog.Logger) *Keeper {
	if cfg.OnOutage == "" {
		cfg.OnOutage = Release
	}
	if in == nil {
		in = NewInbox()
	}
	st := standing{healthy: cfg.Healthy, healthReason: "waiting for the first health report",
		checkAPI: cfg.CheckAPIServer, apiReason: "waiting for the local API server's first check"}
	candidate, _, _ := st.candidate()
	return &Keeper{
		Inbox:    in,
		cfg:      cfg,
		deps:     deps,
		log:      log.With("component", "keeper"),
		now:      time.Now,
		standing: st,
		// The tenure's health is the candidacy: whether this node may
		// hold the control-plane VIP at all.
		tenure: tenure.New(cfg.rules(), candidate),
	}
}

// Start runs the election and the loop until ctx ends, then shuts down in
// the order that lets a peer take over at once: withdraw and unbind the VIP,
// then stop the election, which releases the lease.
func (k *Keeper) Start(ctx context.Context) error {
	defer k.box.Close()
	k.recheck = stoppedTimer()
	defer k.recheck.Stop()

	k.setCandidate(k.tenure.Healthy())
	electCtx, stopElection := context.WithCancel(context.WithoutCancel(ctx))
	defer stopElection()
	// With no control-plane VIP (services only) there is no election to
	// run, and electDone stays nil: never ready.
	var electDone chan error
	if len(k.cfg.VIPs) > 0 {
		electDone = make(chan error, 1)
		go func() { electDone <- k.deps.Elect(electCtx) }()
	}
	// Nothing of ours may be bound before we win: clear leftovers.
	k.unbind(ctx, ReasonStartup, "")

	for {
		select {
		case <-ctx.Done():
			k.svc = nil
			k.unbind(context.WithoutCancel(ctx), ReasonShutdown, "")
			stopElection()
			var err error
			if electDone != nil {
				err = k.waitElection(electDone)
			}
			k.setLeading(false) // released, or left to expire
			return err
		case err := <-electDone:
			// The election only returns when its context ends; anything
			// else is a broken configuration: stop serving.
			k.svc = nil
			k.unbind(context.WithoutCancel(ctx), ReasonElectionStopped, "")
			k.setLeading(false)
			return err
		case ev := <-k.box.C():
			ev.apply(ctx, k)
		case <-k.recheck.C:
			k.check(ctx, "")
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

func stoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}
