package election

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/leaderelection"
)

// Kind says what happened in the election.
type Kind int

const (
	// Elected: this node acquired the lease for the term.
	Elected Kind = iota + 1
	// Lost: the term ended. Sent at the end of every term, including one in
	// which this node never led; the receiver decides what it means.
	Lost
	// Leader: the lease holder seen by this node changed.
	Leader
	// Renewed: a write of ours that names us as holder succeeded; At is
	// when that write was sent, the anchor of the holder's safety deadline.
	Renewed
)

func (k Kind) String() string {
	switch k {
	case Elected:
		return "elected"
	case Lost:
		return "lost"
	case Leader:
		return "leader"
	case Renewed:
		return "renewed"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Event is sent to the node's state loop. Term numbers one campaign (one
// client-go Run); client-go calls OnStartedLeading in a goroutine of its
// own, so an Elected may arrive after the Lost of the same term, and the
// receiver must ignore it then.
type Event struct {
	Kind     Kind
	Term     uint64
	Identity string    // the holder, for Leader
	At       time.Time // for Renewed
}

// Config is what the election needs from the node's configuration.
type Config struct {
	LeaseName      string
	LeaseNamespace string
	Identity       string
	LeaseDuration  time.Duration
	RenewDeadline  time.Duration
	RetryPeriod    time.Duration
	// Labels are set on the Lease when this node creates it (the services
	// controller finds the node Leases by label).
	Labels map[string]string
	// Annotations, if not nil, is asked on every write that names this
	// node (the acquisition and every renewal) for annotations to set on
	// the Lease: each key replaces the Lease's own, an empty value removes
	// it. What this node publishes for its peers rides on the renewals,
	// at no request of its own. It is called from client-go's goroutines
	// and must be fast.
	Annotations func() map[string]string
	// Observer, if not nil, is told about every write of the Lease that
	// names this node (an acquisition or a renewal attempt).
	Observer Observer
	// Heard, if not nil, is told whether the API server answered, for
	// every request of this election and every event its watch delivers:
	// the watchdog's evidence (watchdog.Watchdog.Heard). It is called from
	// client-go's goroutines and must be fast.
	Heard func(ok bool)
}

// Observer times the Lease writes (pkg/metrics). It is called from
// client-go's goroutines and must be fast.
type Observer interface {
	LeaseWrite(took time.Duration, err error)
}

// Elector campaigns for the Lease while this node is a candidate, for as
// long as Start runs: when a term ends (the lease was lost or could not be
// renewed) it campaigns again, in-process. It never binds anything; it only
// reports.
//
// Followers do not wait for client-go's next poll (every 1–2.2 retry
// periods): a watch on the Lease tells them at once when it is released,
// and a timer fires when it expires by their own observation; either starts
// a fresh attempt immediately. While the watch is healthy client-go's
// polls are served from the Lease it delivered, so a follower makes no
// request at all (see watched).
type Elector struct {
	cfg     Config
	leases  coordinationv1client.LeasesGetter
	watches coordinationv1client.LeasesGetter // nil: no watch, poll only
	notify  func(Event)
	log     *slog.Logger
	now     func() time.Time
	obs     *observer
	watched *watched // nil without a watch

	kick      chan struct{} // try now, if not leading
	watchSaw  chan struct{} // the watch saw the Lease change
	reconnect chan struct{} // restart the watch
	candidate chan bool     // latest wish, buffered 1

	mu          sync.Mutex // guards isCandidate
	isCandidate bool
}

// New returns an Elector that reports events through notify. leases serves
// the lease reads and writes; watches, if not nil, serves the Lease watch
// (it needs a client without a request timeout). notify must not block for
// long: client-go's renew loop waits for it. A new Elector is a candidate.
func New(cfg Config, leases, watches coordinationv1client.LeasesGetter, notify func(Event), log *slog.Logger) *Elector {
	e := &Elector{
		cfg:         cfg,
		leases:      leases,
		watches:     watches,
		notify:      notify,
		log:         log.With("component", "election", "lease", cfg.LeaseNamespace+"/"+cfg.LeaseName),
		now:         time.Now,
		kick:        make(chan struct{}, 1),
		watchSaw:    make(chan struct{}, 1),
		reconnect:   make(chan struct{}, 1),
		candidate:   make(chan bool, 1),
		isCandidate: true,
	}
	// Followers read at least every 2.2 retry periods (client-go's poll
	// with jitter) and a read takes at most renew-deadline/2; a longer gap
	// means this node was cut off.
	e.obs = newObserver(func() time.Time { return e.now() }, 3*cfg.RetryPeriod+cfg.RenewDeadline/2)
	if watches != nil {
		e.watched = &watched{}
	}
	return e
}

// SetCandidate says whether this node may hold the lease. A leader that
// stops being a candidate releases the lease; the caller unbinds first.
func (e *Elector) SetCandidate(ok bool) {
	e.mu.Lock()
	e.isCandidate = ok
	e.mu.Unlock()
	select {
	case <-e.candidate:
	default:
	}
	e.candidate <- ok
}

// Kick makes a follower try to acquire the lease now rather than at its
// next poll. It is a no-op for the leader.
func (e *Elector) Kick() { signal(e.kick) }

// Reconnect restarts the Lease watch, e.g. after the API server came back.
// The node may have missed changes meanwhile: its clock restarts at its
// next observation.
func (e *Elector) Reconnect() {
	e.Blind()
	signal(e.reconnect)
}

// Blind says the API server is unreachable from this node (the watchdog's
// verdict): a silent watch proves nothing now, so reads go to the API
// server again, and the node's clock restarts at its next observation — a
// holder riding the outage then has a full lease duration to renew after
// it.
func (e *Elector) Blind() {
	e.watched.drop()
	e.obs.blinded()
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Start campaigns until ctx ends. On ctx end a held lease is released
// (ReleaseOnCancel) before Start returns, so a peer can take over at once.
func (e *Elector) Start(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if e.watches != nil {
		wg.Add(1)
		go func() { defer wg.Done(); e.watch(ctx) }()
	}

	e.mu.Lock()
	candidate := e.isCandidate
	e.mu.Unlock()
	for term := uint64(1); ; {
		if !candidate {
			select {
			case <-ctx.Done():
				return nil
			case candidate = <-e.candidate:
			}
			continue
		}
		le, err := leaderelection.NewLeaderElector(e.electionConfig(term))
		if err != nil {
			return fmt.Errorf("leader election config: %w", err)
		}
		e.log.Debug("campaigning", "term", term)
		// The Run's first attempt reads the Lease as it is now: changes
		// seen before it need no reaction.
		select {
		case <-e.watchSaw:
		default:
		}
		runCtx, stop := context.WithCancel(ctx)
		ended := make(chan struct{})
		began := e.now()
		go func() { defer close(ended); le.Run(runCtx) }()
		restart := e.campaign(ctx, le, began, ended, &candidate)
		stop()
		<-ended
		term++
		if ctx.Err() != nil {
			return nil
		}
		if !restart {
			e.log.Info("term ended; campaigning again", "term", term-1)
		}
	}
}

// campaign waits while one client-go Run is under way. It returns when the
// Run ended by itself (false), or when the Run should be replaced (true):
// a kick or the expiry timer while following, or the candidacy withdrawn.
func (e *Elector) campaign(ctx context.Context, le *leaderelection.LeaderElector, began time.Time, ended <-chan struct{}, candidate *bool) bool {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		// Arm the expiry timer from the latest observation, unless this
		// Run began after the expiry (its first attempt already saw it; a
		// failed attempt is retried at client-go's pace, not in a loop).
		timer.Stop()
		holder, expires, ok := e.obs.state(e.cfg.LeaseDuration)
		if ok && holder != "" && holder != e.cfg.Identity && expires.After(began) {
			timer.Reset(max(expires.Sub(e.now()), 0) + time.Millisecond)
		}
		select {
		case <-ctx.Done():
			return false
		case <-ended:
			return false
		case c := <-e.candidate:
			*candidate = c
			if !c {
				e.log.Info("no longer a candidate; leaving the election")
				return true
			}
		case <-e.obs.changed:
			// re-arm the timer
		case <-e.watchSaw:
			if h, _, _ := e.obs.state(e.cfg.LeaseDuration); h == "" && !le.IsLeader() {
				e.log.Debug("lease released; trying now")
				return true
			}
		case <-e.kick:
			if !le.IsLeader() {
				return true
			}
		case <-timer.C:
			if !le.IsLeader() {
				e.log.Debug("lease expired; trying now")
				return true
			}
		}
	}
}

func (e *Elector) electionConfig(term uint64) leaderelection.LeaderElectionConfig {
	return leaderelection.LeaderElectionConfig{
		Lock: &leaseLock{
			meta:          metav1.ObjectMeta{Name: e.cfg.LeaseName, Namespace: e.cfg.LeaseNamespace, Labels: e.cfg.Labels},
			client:        e.leases,
			identity:      e.cfg.Identity,
			leaseDuration: e.cfg.LeaseDuration,
			obs:           e.obs,
			now:           e.now,
			observer:      e.cfg.Observer,
			watched:       e.watched,
			heard:         e.cfg.Heard,
			annotations:   e.cfg.Annotations,
			onWrite:       func(at time.Time) { e.notify(Event{Kind: Renewed, Term: term, At: at}) },
		},
		LeaseDuration:   e.cfg.LeaseDuration,
		RenewDeadline:   e.cfg.RenewDeadline,
		RetryPeriod:     e.cfg.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            e.cfg.LeaseName,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) { e.notify(Event{Kind: Elected, Term: term}) },
			OnStoppedLeading: func() { e.notify(Event{Kind: Lost, Term: term}) },
			OnNewLeader:      func(id string) { e.notify(Event{Kind: Leader, Term: term, Identity: id}) },
		},
	}
}
