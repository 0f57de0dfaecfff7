package watchdog

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestProbesOnlyWhenEvidenceIsStale: while the daemon's own traffic hears
// the API server once per retry period, the watchdog sends no probe; when
// the traffic stops, or fails, it probes at the next interval, and an API
// server that stopped answering is judged unreachable within the budget.
func TestProbesOnlyWhenEvidenceIsStale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const retry, interval = time.Second, 500 * time.Millisecond
		budget := 3 * time.Second // lease 5s − margin 0.5s − renew deadline/2 1.5s
		var down atomic.Bool
		var wentDown atomic.Int64 // unix nanos of the verdict
		w := New(Config{Interval: interval, Timeout: interval, FailAfter: 2,
			Fresh: EvidenceWindow(retry, interval, 2, budget)},
			func(ctx context.Context) error {
				if down.Load() {
					<-ctx.Done() // a hung connection
					return ctx.Err()
				}
				return nil
			},
			Reactions{Report: []func(bool){func(up bool) {
				if !up {
					wentDown.Store(time.Now().UnixNano())
				}
			}}},
			slog.New(slog.NewTextHandler(io.Discard, nil)))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- w.Start(ctx) }()

		// The first judgement has heard nothing yet: one probe.
		w.Heard(true)
		hearing, stopHearing := context.WithCancel(ctx)
		go func() {
			for hearing.Err() == nil {
				time.Sleep(retry)
				if hearing.Err() == nil {
					w.Heard(true)
				}
			}
		}()
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if got := w.Probes(); got > 1 {
			t.Errorf("probes in 30 s of renewals = %d, want ≤ 1", got)
		}

		// A failed renewal: the next judgement probes.
		before := w.Probes()
		w.Heard(false)
		time.Sleep(interval)
		synctest.Wait()
		if got := w.Probes() - before; got != 1 {
			t.Errorf("probes after a failed renewal = %d, want 1", got)
		}

		// The traffic stops (the API server hangs right after an answer):
		// unreachable within the budget.
		stopHearing()
		time.Sleep(retry / 2)
		w.Heard(true)
		last := time.Now()
		down.Store(true)
		time.Sleep(2 * budget)
		synctest.Wait()
		if wentDown.Load() == 0 {
			t.Fatal("the API server hung and the watchdog did not notice")
		}
		if took := time.Unix(0, wentDown.Load()).Sub(last); took > budget {
			t.Errorf("unreachable judged %v after the last answer; budget %v", took, budget)
		}
		cancel()
		<-done
	})
}

func TestEvidenceWindow(t *testing.T) {
	tests := []struct {
		name                    string
		retry, interval, budget time.Duration
		want                    time.Duration
	}{
		{"defaults: lease 5s, margin 0.5s, renew deadline 3s", time.Second, 500 * time.Millisecond, 3 * time.Second, 1500 * time.Millisecond},
		{"tight budget shortens the window", time.Second, 500 * time.Millisecond, 2700 * time.Millisecond, 1200 * time.Millisecond},
		{"no room beyond one renewal: always probe", time.Second, 500 * time.Millisecond, 2500 * time.Millisecond, 0},
		{"long retry period", 2 * time.Second, time.Second, 8 * time.Second, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := EvidenceWindow(tt.retry, tt.interval, 2, tt.budget)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("EvidenceWindow (-want +got):\n%s", diff)
			}
		})
	}
}
