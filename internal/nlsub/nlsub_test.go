package nlsub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipkeeper/vipkeeper/internal/nlsub/nlsubtest"
)

const delay = 500 * time.Millisecond

// recorder runs Run against a fake subscription and records what Run
// did, in order.
type recorder struct {
	fake  nlsubtest.Fake[int]
	mu    sync.Mutex // guards steps
	steps []string
}

func (r *recorder) step(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.steps = append(r.steps, s)
}

// took returns the steps so far and forgets them.
func (r *recorder) took() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.steps
	r.steps = nil
	return s
}

func (r *recorder) subscribe(ch chan<- int, done <-chan struct{}, onErr func(error)) error {
	err := r.fake.Subscribe(ch, done, onErr)
	if err != nil {
		r.step("subscribe failed")
	} else {
		r.step("subscribe")
	}
	return err
}

// start runs Run in the bubble until the test ends it with the returned
// function, which waits for Run to return.
func (r *recorder) start(t *testing.T, log *slog.Logger) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	cfg := Config[int]{Subscribe: r.subscribe, Events: "test", Buffer: 4, RetryDelay: delay, Log: log}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		Run(ctx, cfg, func() { r.step("sync") }, func(v int) { r.step(fmt.Sprint("event ", v)) })
	}()
	synctest.Wait()
	return func() {
		cancel()
		<-ended
	}
}

func (r *recorder) check(t *testing.T, when string, want ...string) {
	t.Helper()
	synctest.Wait()
	if diff := cmp.Diff(want, r.took()); diff != "" {
		t.Errorf("%s: steps (-want +got):\n%s", when, diff)
	}
}

func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r recorder
		stop := r.start(t, nil)
		r.check(t, "at start", "subscribe", "sync")

		for v := range 3 {
			r.fake.Send(v)
		}
		r.check(t, "after three events", "event 0", "event 1", "event 2")

		first := r.fake.Last()
		first.Close() // as when the socket overflows
		r.check(t, "right after the close")
		time.Sleep(delay)
		r.check(t, "a retry delay after the close", "subscribe", "sync")
		first.Send(9) // the old subscription says nothing any more
		r.fake.Send(3)
		r.check(t, "events of the new subscription", "event 3")

		stop()
		r.check(t, "after stop")
		if !r.fake.Last().Closed() {
			t.Error("subscription still open after Run returned")
		}
	})
}

func TestRunRetriesFailedSubscribe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r recorder
		r.fake.FailNext(2)
		stop := r.start(t, nil)
		defer stop()
		r.check(t, "at start", "subscribe failed", "sync") // the caller polls meanwhile
		time.Sleep(delay - time.Nanosecond)
		r.check(t, "just before the retry delay")
		time.Sleep(time.Nanosecond)
		r.check(t, "at the retry delay", "subscribe failed", "sync")
		time.Sleep(delay)
		r.check(t, "at the second retry", "subscribe", "sync")
	})
}

// Errors the reader reports while the subscription is open are logged;
// the one our own close causes is not.
func TestRunLogsReaderErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out logBuffer
		log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			},
		}))
		var r recorder
		stop := r.start(t, log)
		s := r.fake.Last()
		s.Fail(errors.New("receive failed"))
		stop()
		s.Fail(errors.New("use of closed socket"))
		want := "level=WARN msg=\"netlink subscription error\" events=test err=\"receive failed\"\n"
		if diff := cmp.Diff(want, out.String()); diff != "" {
			t.Errorf("log (-want +got):\n%s", diff)
		}
	})
}

// logBuffer is a bytes.Buffer safe for concurrent writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
