package health

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"
)

// errBoom is a scripted probe failure.
var errBoom = errors.New("boom")

// scripted returns a probeMaker whose probes follow scripts[check name], one
// character per probe: '+' good, '-' fails with errBoom, 'T' blocks until the
// probe's deadline. After the end of a script its last character repeats.
func scripted(scripts map[string]string) probeMaker {
	return func(c Check, _ Config, _ *slog.Logger) (probeFunc, error) {
		script := scripts[c.Name]
		if script == "" {
			return nil, errors.New("no script for " + c.Name)
		}
		n := 0
		return func(ctx context.Context) error {
			step := script[min(n, len(script)-1)]
			n++ // only the check's own goroutine calls the probe
			switch step {
			case '+':
				return nil
			case 'T':
				<-ctx.Done()
				return ctx.Err()
			}
			return errBoom
		}, nil
	}
}

// fakeLinks is a linkWatcher fed by the test through states.
type fakeLinks struct{ states chan linkState }

func newFakeLinks() *fakeLinks { return &fakeLinks{states: make(chan linkState)} }

func (f *fakeLinks) watch(ctx context.Context, _ string, out chan<- linkState) {
	for {
		select {
		case <-ctx.Done():
			return
		case s := <-f.states:
			if !send(ctx, out, s) {
				return
			}
		}
	}
}

// note is one notification, at a time relative to Start.
type note struct {
	At       time.Duration
	Healthy  bool
	Reason   string
	LinkDown bool
	Checks   map[string]bool
}

// recorder collects notifications.
type recorder struct {
	start time.Time
	mu    sync.Mutex // guards notes
	notes []note
}

func (r *recorder) notify(s Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, note{At: time.Since(r.start), Healthy: s.Healthy, Reason: s.Reason, LinkDown: s.LinkDown, Checks: maps.Clone(s.Checks)})
}

func (r *recorder) get() []note {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]note(nil), r.notes...)
}

// harness runs a Prober with scripted probes inside a synctest bubble.
type harness struct {
	p      *Prober
	rec    *recorder
	cancel context.CancelFunc
	done   chan error
	logs   *strings.Builder
}

// startHarness builds and starts a prober; call it inside synctest.Test.
func startHarness(t *testing.T, cfg Config, scripts map[string]string, links linkWatcher) *harness {
	t.Helper()
	rec := &recorder{start: time.Now()}
	logs := &strings.Builder{}
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, err := newProber(cfg, rec.notify, log, scripted(scripts), links)
	if err != nil {
		t.Fatalf("newProber: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	h := &harness{p: p, rec: rec, cancel: cancel, done: make(chan error, 1), logs: logs}
	go func() { h.done <- p.Start(ctx) }()
	return h
}

// stop ends Start and checks its result.
func (h *harness) stop(t *testing.T) {
	t.Helper()
	h.cancel()
	if err := <-h.done; err != nil {
		t.Errorf("Start: %v", err)
	}
}

type lockedWriter struct {
	mu sync.Mutex // guards w
	w  *strings.Builder
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// testConfig is a valid config with the given checks, named after scripts.
func testConfig(rise, fall int, names ...string) Config {
	cfg := DefaultConfig()
	cfg.Rise, cfg.Fall = rise, fall
	for _, n := range names {
		cfg.Checks = append(cfg.Checks, Check{Name: n, Kind: KindICMP, Target: "192.0.2.1"})
	}
	return cfg
}
