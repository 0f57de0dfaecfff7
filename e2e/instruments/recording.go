package instruments

import (
	"context"
	"sync"
	"time"
)

// Recording runs a Prober and an OwnerMonitor side by side.
type Recording struct {
	Prober  *Prober
	Monitor *OwnerMonitor
	Began   time.Time

	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex // guards the fields below
	ended time.Time  // zero while running
	marks map[string]time.Time
}

// StartRecording starts probing target and sampling owners until Stop.
func StartRecording(dial DialFunc, target string, owners OwnersFunc) *Recording {
	ctx, cancel := context.WithCancel(context.Background())
	r := &Recording{
		Prober:  &Prober{Dial: dial, Target: target},
		Monitor: &OwnerMonitor{Owners: owners},
		Began:   time.Now(),
		cancel:  cancel,
		marks:   map[string]time.Time{},
	}
	r.wg.Go(func() { r.Prober.Run(ctx) })
	r.wg.Go(func() { r.Monitor.Run(ctx) })
	return r
}

// Mark records a named instant (e.g. "fault") and returns it.
func (r *Recording) Mark(name string) time.Time {
	now := time.Now()
	r.mu.Lock()
	r.marks[name] = now
	r.mu.Unlock()
	return now
}

// At returns a mark (zero if unset).
func (r *Recording) At(name string) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.marks[name]
}

// Stop ends the recording and waits for the instruments; it is idempotent.
func (r *Recording) Stop() {
	r.cancel()
	r.wg.Wait()
	r.mu.Lock()
	if r.ended.IsZero() {
		r.ended = time.Now()
	}
	r.mu.Unlock()
}

// end is when the recording stopped, or now.
func (r *Recording) end() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended.IsZero() {
		return time.Now()
	}
	return r.ended
}

// Summary summarizes from since to the end (or now, while running).
func (r *Recording) Summary(since time.Time) Summary {
	return Summarize(r.Prober.Probes(), r.Monitor.Samples(), since, r.end())
}

// Timeline lists what changed, relative to the start of the recording.
func (r *Recording) Timeline() string {
	return Timeline(r.Prober.Probes(), r.Monitor.Samples(), r.Began)
}

// Between summarizes the recording over [from, to]: what a fault did up to
// a chosen point, before a later phase of the test adds its own outages.
func (r *Recording) Between(from, to time.Time) Summary {
	return Summarize(r.Prober.Probes(), r.Monitor.Samples(), from, to)
}
