package election

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
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
)

func (k Kind) String() string {
	switch k {
	case Elected:
		return "elected"
	case Lost:
		return "lost"
	case Leader:
		return "leader"
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
	Identity string // the holder, for Leader
}

// Config is what the election needs from the node's configuration.
type Config struct {
	LeaseName      string
	LeaseNamespace string
	Identity       string
	LeaseDuration  time.Duration
	RenewDeadline  time.Duration
	RetryPeriod    time.Duration
}

// Elector campaigns for the Lease for as long as Start runs: when a term
// ends (the lease was lost or could not be renewed) it campaigns again,
// in-process. It never binds anything; it only reports.
type Elector struct {
	cfg    Config
	leases coordinationv1client.LeasesGetter
	notify func(Event)
	log    *slog.Logger
	// pause is how long Start waits between terms; a var for tests.
	pause func(Config) time.Duration
}

// New returns an Elector that reports events through notify. notify must
// not block for long: client-go's renew loop waits for it.
func New(cfg Config, leases coordinationv1client.LeasesGetter, notify func(Event), log *slog.Logger) *Elector {
	return &Elector{
		cfg:    cfg,
		leases: leases,
		notify: notify,
		log:    log.With("component", "election", "lease", cfg.LeaseNamespace+"/"+cfg.LeaseName),
		// A term that ended by losing the lease is followed by a new
		// campaign after one retry period, the same pace client-go polls at.
		pause: func(c Config) time.Duration { return c.RetryPeriod },
	}
}

// Start campaigns until ctx ends. On ctx end a held lease is released
// (ReleaseOnCancel) before Start returns, so a peer can take over at once.
func (e *Elector) Start(ctx context.Context) error {
	for term := uint64(1); ; term++ {
		le, err := leaderelection.NewLeaderElector(e.electionConfig(term))
		if err != nil {
			return fmt.Errorf("leader election config: %w", err)
		}
		e.log.Debug("campaigning", "term", term)
		le.Run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		e.log.Info("term ended; campaigning again", "term", term)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(e.pause(e.cfg)):
		}
	}
}

func (e *Elector) electionConfig(term uint64) leaderelection.LeaderElectionConfig {
	return leaderelection.LeaderElectionConfig{
		Lock: &resourcelock.LeaseLock{
			LeaseMeta:  metaFor(e.cfg),
			Client:     e.leases,
			LockConfig: resourcelock.ResourceLockConfig{Identity: e.cfg.Identity},
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

func metaFor(c Config) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: c.LeaseName, Namespace: c.LeaseNamespace}
}
