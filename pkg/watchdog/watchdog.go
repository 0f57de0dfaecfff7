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
	// Fresh is how long an answer the daemon heard anyway (Heard) stands
	// in for a probe; 0 probes at every interval. EvidenceWindow says how
	// long it may be.
	Fresh time.Duration
}

// Watchdog judges every Interval whether the API server answers and acts
// on the verdict (Reactions), as decide says. It listens before it speaks:
// while the daemon's own traffic (Heard: the holder's renewals, the Lease
// watches' events) answered within Fresh, that is the verdict; only when
// that evidence is missing or stale, or the last of it was a failure, does
// it probe.
type Watchdog struct {
	cfg   Config
	probe Probe
	react Reactions
	log   *slog.Logger

	mu      sync.Mutex // guards the fields below
	heard   time.Time  // when the API last answered the daemon's own traffic; zero after a failure
	probes  int        // probes sent, for tests and metrics
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

// Heard is told whether the API server answered a request the daemon
// made anyway, or delivered a watch event (ok), or failed one (not ok: the
// next judgement probes). It must be fast: it is called from client-go's
// goroutines.
func (w *Watchdog) Heard(ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ok {
		w.heard = time.Now()
	} else {
		w.heard = time.Time{}
	}
}

// Probes returns how many probes were sent.
func (w *Watchdog) Probes() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.probes
}

// Start judges until ctx ends.
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

// fresh says whether the daemon's own traffic heard the API server answer
// recently enough to stand in for a probe.
func (w *Watchdog) fresh() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.heard.IsZero() && time.Since(w.heard) <= w.cfg.Fresh
}

func (w *Watchdog) once(ctx context.Context) {
	start := time.Now()
	var err error
	if !w.fresh() {
		w.mu.Lock()
		w.probes++
		w.mu.Unlock()
		pctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
		err = w.probe(pctx)
		cancel()
	}
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

// EvidenceWindow is how long an answer heard from the daemon's own
// traffic may stand in for a probe (Config.Fresh) so that an API server
// that stopped answering is still judged unreachable within budget: after
// the last answer, the evidence goes stale after the window, the next
// judgement comes within one interval, and failAfter probes, each bounded
// by the interval, make the verdict. A holder renews once per retry
// period, so a window shorter than that is useless: 0 (always probe) is
// returned then. The window is at most retry + interval, the holder's
// renewal period with an interval of slack for a slow answer.
func EvidenceWindow(retry, interval time.Duration, failAfter int, budget time.Duration) time.Duration {
	w := min(retry+interval, budget-time.Duration(failAfter+1)*interval)
	if w <= retry {
		return 0
	}
	return w
}
