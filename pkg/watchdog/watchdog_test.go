package watchdog

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTransitions(t *testing.T) {
	tests := []struct {
		name      string
		failAfter int
		results   []bool // probe outcomes, one per interval
		want      []bool // onChange calls
	}{
		{"always up", 2, []bool{true, true, true}, nil},
		{"one failure is tolerated", 2, []bool{true, false, true, false, true}, nil},
		{"two failures make it down", 2, []bool{true, false, false, false}, []bool{false}},
		{"down then up", 2, []bool{false, false, true, true}, []bool{false, true}},
		{"flapping", 1, []bool{false, true, false, true}, []bool{false, true, false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				var got []bool
				i := 0
				probe := func(context.Context) error {
					mu.Lock()
					defer mu.Unlock()
					ok := true
					if i < len(tt.results) {
						ok = tt.results[i]
					}
					i++
					if ok {
						return nil
					}
					return errors.New("connection refused")
				}
				w := New(Config{Interval: time.Second, Timeout: 500 * time.Millisecond, FailAfter: tt.failAfter}, probe,
					Reactions{Report: []func(bool){func(up bool) { mu.Lock(); got = append(got, up); mu.Unlock() }}},
					slog.New(slog.NewTextHandler(io.Discard, nil)))
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan error)
				go func() { done <- w.Start(ctx) }()
				time.Sleep(time.Duration(len(tt.results))*time.Second - time.Millisecond)
				synctest.Wait()
				cancel()
				<-done
				mu.Lock()
				defer mu.Unlock()
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("changes (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// TestHungProbe: a probe that never answers counts as a failure after the
// timeout; the watchdog does not hang with it.
func TestHungProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var got []bool
		w := New(Config{Interval: time.Second, Timeout: 300 * time.Millisecond, FailAfter: 2},
			func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
			Reactions{Report: []func(bool){func(up bool) { mu.Lock(); got = append(got, up); mu.Unlock() }}},
			slog.New(slog.NewTextHandler(io.Discard, nil)))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- w.Start(ctx) }()
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if w.Reachable() {
			t.Error("reachable with a hung probe")
		}
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		if diff := cmp.Diff([]bool{false}, got); diff != "" {
			t.Errorf("changes (-want +got):\n%s", diff)
		}
	})
}
