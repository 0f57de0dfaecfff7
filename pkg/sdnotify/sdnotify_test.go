package sdnotify

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// fakeSystemd is a NOTIFY_SOCKET: a unixgram socket that collects what
// the daemon sends.
type fakeSystemd struct {
	conn *net.UnixConn
	msgs chan string
}

func newFakeSystemd(t *testing.T, watchdog time.Duration) *fakeSystemd {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_PID", "")
	if watchdog > 0 {
		t.Setenv("WATCHDOG_USEC", strconv.FormatInt(watchdog.Microseconds(), 10))
	} else {
		t.Setenv("WATCHDOG_USEC", "")
	}
	f := &fakeSystemd{conn: conn, msgs: make(chan string, 256)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(f.msgs)
				return
			}
			f.msgs <- string(buf[:n])
		}
	}()
	return f
}

// within collects the messages received for d.
func (f *fakeSystemd) within(d time.Duration) []string {
	var got []string
	deadline := time.After(d)
	for {
		select {
		case m := <-f.msgs:
			got = append(got, m)
		case <-deadline:
			return got
		}
	}
}

func count(msgs []string, state string) int {
	n := 0
	for _, m := range msgs {
		if m == state {
			n++
		}
	}
	return n
}

// loop is a fake keeper loop: it answers pings unless stuck.
type loop struct{ stuck atomic.Bool }

func (l *loop) ping(ctx context.Context) error {
	if l.stuck.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func start(t *testing.T, alive Alive) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- New(alive, slog.New(slog.DiscardHandler)).Start(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start: %v", err)
		}
	}
}

func TestReadyAndWatchdog(t *testing.T) {
	sd := newFakeSystemd(t, 200*time.Millisecond) // keep-alive every 100ms
	var l loop
	stop := start(t, l.ping)

	got := sd.within(550 * time.Millisecond)
	if len(got) == 0 || got[0] != "READY=1" {
		t.Fatalf("first message = %q, want READY=1 first", got)
	}
	if n := count(got, "WATCHDOG=1"); n < 3 {
		t.Errorf("%d WATCHDOG=1 in 550ms with a 200ms watchdog, want at least 3: %q", n, got)
	}

	// The loop hangs: no keep-alive, so systemd would restart us.
	l.stuck.Store(true)
	sd.within(250 * time.Millisecond) // a keep-alive may be on its way
	if got := sd.within(500 * time.Millisecond); count(got, "WATCHDOG=1") != 0 {
		t.Errorf("keep-alives while the loop is stuck: %q", got)
	}

	// It answers again: keep-alives resume.
	l.stuck.Store(false)
	if got := sd.within(400 * time.Millisecond); count(got, "WATCHDOG=1") == 0 {
		t.Errorf("no keep-alive after the loop answers again: %q", got)
	}
	stop()
	if got := sd.within(100 * time.Millisecond); count(got, "STOPPING=1") != 1 {
		t.Errorf("at shutdown got %q, want STOPPING=1", got)
	}
}

// TestStuckFromStart: a loop that never answers is never reported ready
// and never kept alive (systemd's start timeout then fails the unit).
func TestStuckFromStart(t *testing.T) {
	sd := newFakeSystemd(t, 200*time.Millisecond)
	var l loop
	l.stuck.Store(true)
	stop := start(t, l.ping)
	if got := sd.within(600 * time.Millisecond); len(got) != 0 {
		t.Errorf("sent %q for a loop that never answered", got)
	}
	stop()
}

// TestNoWatchdog: without WATCHDOG_USEC only READY=1 and STOPPING=1 go out.
func TestNoWatchdog(t *testing.T) {
	sd := newFakeSystemd(t, 0)
	var l loop
	stop := start(t, l.ping)
	got := sd.within(300 * time.Millisecond)
	stop()
	got = append(got, sd.within(100*time.Millisecond)...)
	if len(got) != 2 || got[0] != "READY=1" || got[1] != "STOPPING=1" {
		t.Errorf("got %q, want READY=1 then STOPPING=1", got)
	}
}

// TestNotUnderSystemd: without NOTIFY_SOCKET Start returns at once.
func TestNotUnderSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	done := make(chan error)
	go func() {
		done <- New(func(context.Context) error { return nil }, slog.New(slog.DiscardHandler)).Start(t.Context())
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Start: %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Start blocked without NOTIFY_SOCKET")
	}
}
