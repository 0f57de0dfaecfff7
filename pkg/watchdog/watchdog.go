// Package watchdog tells whether the API server answers, from a client of
// its own with a short timeout, and reports each change. Its recovery
// report is what makes the rest of the daemon heal without a restart: the
// caller drops stale connections, restarts the Lease watch and campaigns at
// once (PITFALLS items 1 and 2).
package watchdog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Probe asks the API server once; nil means it answered and is ready.
type Probe func(ctx context.Context) error

// Config sets the watchdog's pace.
type Config struct {
	Interval  time.Duration // between probes
	Timeout   time.Duration // per probe; must be < Interval
	FailAfter int           // consecutive failures that make the API unreachable
}

// Watchdog probes the API server every Interval.
type Watchdog struct {
	cfg      Config
	probe    Probe
	onChange func(reachable bool)
	log      *slog.Logger

	mu        sync.Mutex // guards the fields below
	reachable bool
	failures  int
	lastErr   string
	since     time.Time
}

// New returns a Watchdog; it starts nothing. onChange is called from the
// watchdog's goroutine on every change of reachability and must not block
// for long. The API counts as reachable until probes say otherwise.
func New(cfg Config, probe Probe, onChange func(reachable bool), log *slog.Logger) *Watchdog {
	if cfg.FailAfter < 1 {
		cfg.FailAfter = 1
	}
	return &Watchdog{cfg: cfg, probe: probe, onChange: onChange, log: log.With("component", "watchdog"), reachable: true}
}

// Reachable reports the current verdict.
func (w *Watchdog) Reachable() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reachable
}

// Start probes until ctx ends.
func (w *Watchdog) Start(ctx context.Context) error {
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		w.once(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (w *Watchdog) once(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	start := time.Now()
	err := w.probe(pctx)
	cancel()
	if ctx.Err() != nil {
		return
	}
	w.mu.Lock()
	was := w.reachable
	if err == nil {
		w.failures = 0
		w.reachable = true
	} else {
		w.failures++
		w.lastErr = err.Error()
		if w.failures >= w.cfg.FailAfter {
			w.reachable = false
		}
	}
	now, changed := w.reachable, w.reachable != was
	var downFor time.Duration
	if changed {
		if !now {
			w.since = start
		} else {
			downFor = time.Since(w.since)
		}
	}
	lastErr := w.lastErr
	w.mu.Unlock()
	if !changed {
		return
	}
	if now {
		w.log.Info("API server reachable again", "down_for", downFor.Round(time.Millisecond))
	} else {
		w.log.Warn("API server unreachable", "err", lastErr, "failures", w.cfg.FailAfter)
	}
	w.onChange(now)
}
