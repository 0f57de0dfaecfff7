package health

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netns"
)

// ErrStarted is returned by a second call of Start.
var ErrStarted = errors.New("health: prober already started")

// Prober runs the checks and link tracking of one Config.
type Prober struct {
	cfg    Config // validated, Checks copied
	notify func(Status)
	log    *slog.Logger
	probes []probeFunc // parallel to cfg.Checks
	links  linkWatcher

	started atomic.Bool
}

// probeMaker builds a check's probe; tests replace it.
type probeMaker func(Check, Config, *slog.Logger) (probeFunc, error)

// New validates cfg, reads CA files and builds the probes; it starts
// nothing. notify (may be nil) is called from Start's goroutine with the
// initial state and on every change; see the package documentation. log is
// tagged component=health.
func New(cfg Config, notify func(Status), log *slog.Logger) (*Prober, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "health")
	return newProber(cfg, notify, log, newProbe, &netlinkWatcher{ns: netns.None(), log: log})
}

func newProber(cfg Config, notify func(Status), log *slog.Logger, mk probeMaker, links linkWatcher) (*Prober, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Checks = slices.Clone(cfg.Checks)
	if notify == nil {
		notify = func(Status) {}
	}
	p := &Prober{cfg: cfg, notify: notify, log: log, links: links}
	for _, c := range cfg.Checks {
		probe, err := mk(c, cfg, log)
		if err != nil {
			return nil, err
		}
		p.probes = append(p.probes, probe)
	}
	return p, nil
}

func (p *Prober) initialChecks() []checkState {
	s := make([]checkState, len(p.cfg.Checks))
	for i, c := range p.cfg.Checks {
		s[i] = checkState{name: c.Name}
	}
	return s
}

// result is one probe's outcome.
type result struct {
	check int
	err   error
}

// Start runs the checks and link tracking until ctx ends, then returns nil
// after every goroutine it started has returned. It may be called once.
func (p *Prober) Start(ctx context.Context) error {
	if !p.started.CompareAndSwap(false, true) {
		return ErrStarted
	}
	tracked := p.cfg.Interface != ""
	p.log.Info("starting", "checks", len(p.cfg.Checks), "interval", p.cfg.Interval, "timeout", p.cfg.Timeout,
		"rise", p.cfg.Rise, "fall", p.cfg.Fall, "interface", p.cfg.Interface)
	for _, c := range p.cfg.Checks {
		p.log.Info("check configured", "check", c.Name, "kind", c.Kind, "target", displayTarget(c))
	}

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel: deferred calls run last-in first-out
	defer cancel()

	results := make(chan result)
	for i, probe := range p.probes {
		wg.Go(func() { p.runCheck(ctx, i, probe, results) })
	}
	var linkCh chan linkState // nil, never ready, without link tracking
	if tracked {
		linkCh = make(chan linkState)
		wg.Go(func() { p.links.watch(ctx, p.cfg.Interface, linkCh) })
	}

	checks := p.initialChecks()
	link := linkView{tracked: tracked}
	var last *Status // last notified; nil until the initial notification
	if !tracked {
		last = p.publish(aggregate(checks, link, p.cfg.Rise), last)
	}
	for {
		select {
		case <-ctx.Done():
			p.log.Info("stopped")
			return nil
		case r := <-results:
			c, check := &checks[r.check], p.cfg.Checks[r.check]
			if r.err != nil {
				p.log.Debug("probe failed", "check", check.Name, "err", r.err)
			}
			if c.observe(r.err, p.cfg.Rise, p.cfg.Fall) {
				if c.Up {
					p.log.Info("check up", "check", check.Name, "kind", check.Kind)
				} else {
					p.log.Warn("check down", "check", check.Name, "kind", check.Kind, "reason", c.reason, "err", r.err)
				}
			}
		case s := <-linkCh:
			if !link.known || s.up != link.state.up {
				if s.up {
					p.log.Info("link up", "interface", p.cfg.Interface)
				} else {
					p.log.Warn("link down", "interface", p.cfg.Interface, "detail", s.detail)
				}
			}
			link.known, link.state = true, s
		}
		if !tracked || link.known {
			last = p.publish(aggregate(checks, link, p.cfg.Rise), last)
		}
	}
}

// publish notifies st if it differs from last (or last is nil); it
// returns the last notified state.
func (p *Prober) publish(st Status, last *Status) *Status {
	if last != nil && sameState(*last, st) {
		return last
	}
	if st.Healthy {
		p.log.Info("healthy")
	} else {
		p.log.Warn("unhealthy", "reason", st.Reason)
	}
	p.notify(st.clone())
	return &st
}

// runCheck probes check i at once and then every Interval until ctx ends.
// Timeout < Interval, so a probe ends before the next tick is due.
func (p *Prober) runCheck(ctx context.Context, i int, probe probeFunc, out chan<- result) {
	name := p.cfg.Checks[i].Name
	tick := time.NewTicker(p.cfg.Interval)
	defer tick.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
		start := time.Now()
		err := probe(pctx)
		took := time.Since(start)
		cancel()
		if ctx.Err() != nil {
			return // cut short by shutdown: not a result
		}
		if p.cfg.Observe != nil {
			p.cfg.Observe(name, err == nil, took)
		}
		select {
		case out <- result{check: i, err: err}:
		case <-ctx.Done():
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// displayTarget is a check's target for the log, without a URL password.
func displayTarget(c Check) string {
	if c.Kind == KindHTTP {
		if u, err := url.Parse(c.Target); err == nil {
			return u.Redacted()
		}
	}
	return c.Target
}
