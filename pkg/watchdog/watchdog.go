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

// Watchdog probes the API server every Interval and acts on the outcome
// (Reactions), as decide says.
type Watchdog struct {
	cfg   Config
	probe Probe
	react Reactions
	log   *slog.Logger

	mu      sync.Mutex // guards the fields below
	st      state
	lastErr string
	since   time.Time // when the API became unreachable
}

// New returns a Watchdog; it starts nothing. The reactions run in the
// watchdog's goroutine and must not block for long. The API counts as
// reachable until probes say otherwise.
func New(cfg Config, probe Probe, react Reactions, log *slog.Logger) *Watchdog {
	if cfg.FailAfter < 1 {
		cfg.FailAfter = 1
	}
	return &Watchdog{cfg: cfg, probe: probe, react: react, log: log.With("component", "watchdog"), st: state{reachable: true}}
}

// Reachable reports the current verdict.
func (w *Watchdog) Reachable() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.st.reachable
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
	var a action
	w.st, a = decide(w.st, err == nil, w.cfg.FailAfter)
	if err != nil {
		w.lastErr = err.Error()
	}
	var downFor time.Duration
	switch a.change {
	case wentDown:
		w.since = start
	case cameBack:
		downFor = time.Since(w.since)
	}
	lastErr := w.lastErr
	w.mu.Unlock()
	switch a.change {
	case cameBack:
		w.log.Info("API server reachable again", "down_for", downFor.Round(time.Millisecond))
	case wentDown:
		w.log.Warn("API server unreachable", "err", lastErr, "failures", w.cfg.FailAfter)
	}
	w.react.do(a)
}
