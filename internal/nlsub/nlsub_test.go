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
)

const delay = 500 * time.Millisecond

var errSubscribe = errors.New("injected subscribe error")

// fakeNetlink hands out subscriptions whose events the test sends, and
// records what Run did, in order.
type fakeNetlink struct {
	mu    sync.Mutex // guards the fields below
	fails int        // subscribe attempts still to fail
	subs  []*fakeSub
	steps []string
}

// fakeSub is one subscription; the test plays its netlink reader.
type fakeSub struct {
	ch     chan<- int
	done   <-chan struct{}
	onErr  func(error)
	mu     sync.Mutex // guards closed and sending on ch
	closed bool
}

func (f *fakeNetlink) subscribe(ch chan<- int, done <-chan struct{}, onErr func(error)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fails > 0 {
		f.fails--
		f.steps = append(f.steps, "subscribe failed")
		return errSubscribe
	}
	s := &fakeSub{ch: ch, done: done, onErr: onErr}
	f.subs = append(f.subs, s)
	f.steps = append(f.steps, "subscribe")
	go func() {
		<-done
		s.close()
	}()
	return nil
}

func (f *fakeNetlink) step(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.steps = append(f.steps, s)
}

// took returns the steps so far and forgets them.
func (f *fakeNetlink) took() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.steps
	f.steps = nil
	return s
}

func (f *fakeNetlink) last() *fakeSub {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.subs[len(f.subs)-1]
}

// send delivers v unless the subscription is closed.
func (s *fakeSub) send(v int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	select {
	case s.ch <- v:
	case <-s.done:
	}
}

// close closes the channel, as the reader does when its socket fails or
// is closed.
func (s *fakeSub) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
}

// start runs Run in the bubble until the test ends it with the returned
// function, which waits for Run to return.
func start(t *testing.T, f *fakeNetlink, log *slog.Logger) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	cfg := Config[int]{Subscribe: f.subscribe, Events: "test", Buffer: 4, RetryDelay: delay, Log: log}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		Run(ctx, cfg, func() { f.step("sync") }, func(v int) { f.step(fmt.Sprint("event ", v)) })
	}()
	synctest.Wait()
	return func() {
		cancel()
		<-ended
	}
}

func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeNetlink{}
		stop := start(t, f, nil)
		check := func(when string, want ...string) {
			t.Helper()
			synctest.Wait()
			if diff := cmp.Diff(want, f.took()); diff != "" {
				t.Errorf("%s: steps (-want +got):\n%s", when, diff)
			}
		}
		check("at start", "subscribe", "sync")

		for v := range 3 {
			f.last().send(v)
		}
		check("after three events", "event 0", "event 1", "event 2")

		first := f.last()
		first.close() // as when the socket overflows
		check("right after the close")
		time.Sleep(delay)
		check("a retry delay after the close", "subscribe", "sync")
		first.send(9) // the old subscription says nothing any more
		f.last().send(3)
		check("events of the new subscription", "event 3")

		stop()
		check("after stop")
		if s := f.last(); !s.closed {
			t.Error("subscription still open after Run returned")
		}
	})
}

func TestRunRetriesFailedSubscribe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeNetlink{fails: 2}
		stop := start(t, f, nil)
		defer stop()
		steps := []string{"subscribe failed", "sync"} // the caller polls meanwhile
		if diff := cmp.Diff(steps, f.took()); diff != "" {
			t.Errorf("at start (-want +got):\n%s", diff)
		}
		time.Sleep(delay - time.Nanosecond)
		synctest.Wait()
		if got := f.took(); len(got) != 0 {
			t.Errorf("retried before the delay: %v", got)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		time.Sleep(delay)
		synctest.Wait()
		want := []string{"subscribe failed", "sync", "subscribe", "sync"}
		if diff := cmp.Diff(want, f.took()); diff != "" {
			t.Errorf("after two retries (-want +got):\n%s", diff)
		}
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
		f := &fakeNetlink{}
		stop := start(t, f, log)
		s := f.last()
		s.onErr(errors.New("receive failed"))
		stop()
		s.onErr(errors.New("use of closed socket"))
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
