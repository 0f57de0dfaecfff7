package apicheck

import (
	"context"
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRiseFall drives a Checker through a scripted server: it turns
// ready after Rise good probes, not ready after Fall failed ones, says
// why once at the first failure, and probes every Interval.
func TestRiseFall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		refused := syscall.ECONNREFUSED
		status := errors.New("status 500")
		// One result per probe, in order; the probe after the last
		// blocks the test's end.
		script := []error{refused, nil, nil, status, nil, status, status, nil, nil}
		var (
			mu    sync.Mutex
			n     int
			times []time.Duration
		)
		start := time.Now()
		probe := func(ctx context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			times = append(times, time.Since(start))
			if n >= len(script) {
				<-ctx.Done() // hangs: the timeout ends it
				return ctx.Err()
			}
			n++
			return script[n-1]
		}
		var got []Status
		notify := func(s Status) { got = append(got, s) }
		cfg := Config{Server: "https://127.0.0.1:6443", Interval: DefaultInterval, Timeout: DefaultTimeout, Rise: 2, Fall: 2}
		c := newChecker(cfg, probe, notify, nil)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- c.Start(ctx) }()
		time.Sleep(time.Duration(len(script)+1) * cfg.Interval)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Start: %v", err)
		}

		want := []Status{
			{Reason: "connection refused"}, // the first verdict, though nothing changed
			{Ready: true},                  // after two good probes
			{Reason: "status 500"},         // after two failed ones; one alone changed nothing
			{Ready: true},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("notifications (-want +got):\n%s", diff)
		}
		for i, at := range times {
			if want := time.Duration(i) * cfg.Interval; at != want {
				t.Errorf("probe %d at %v, want %v", i, at, want)
			}
		}
		if err := c.Start(t.Context()); !errors.Is(err, ErrStarted) {
			t.Errorf("second Start: %v, want ErrStarted", err)
		}
	})
}

// TestTimeoutIsAFailure: a server that never answers is not ready, each
// probe ended by the timeout.
func TestTimeoutIsAFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		probe := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
		var got []Status
		c := newChecker(Config{Server: "https://127.0.0.1:6443", Interval: time.Second, Timeout: 300 * time.Millisecond, Rise: 1, Fall: 1},
			probe, func(s Status) { got = append(got, s) }, nil)
		ctx, cancel := context.WithTimeout(t.Context(), 2500*time.Millisecond)
		defer cancel()
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]Status{{Reason: "timeout"}}, got); diff != "" {
			t.Errorf("notifications (-want +got):\n%s", diff)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	good := Config{Server: "https://127.0.0.1:6443", Interval: time.Second, Timeout: time.Second / 2, Rise: 1, Fall: 1}
	tests := map[string]func(*Config){
		"timeout not below interval": func(c *Config) { c.Timeout = c.Interval },
		"zero interval":              func(c *Config) { c.Interval = 0 },
		"zero rise":                  func(c *Config) { c.Rise = 0 },
		"zero fall":                  func(c *Config) { c.Fall = 0 },
		"plain http":                 func(c *Config) { c.Server = "http://127.0.0.1:6443" },
		"no host":                    func(c *Config) { c.Server = "https://" },
	}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for name, breakIt := range tests {
		c := good
		breakIt(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
	}
}

func TestReadyzURL(t *testing.T) {
	got, err := readyzURL("https://[2001:db8::1]:6443/")
	if want := "https://[2001:db8::1]:6443/readyz"; err != nil || got != want {
		t.Errorf("readyzURL = %q, %v; want %q", got, err, want)
	}
}

func TestFailing(t *testing.T) {
	tests := map[string]string{
		"":   "",
		"ok": "",
		"[+]ping ok\n[-]etcd failed: reason withheld\n[-]shutdown failed: reason withheld\nreadyz check failed": "etcd, shutdown",
		"  [-]a failed\n[-]b failed\n[-]c failed\n[-]d failed\n":                                                "a, b, c",
		"[-]\n[-] x\n":     "",
		"<html>503</html>": "",
	}
	for body, want := range tests {
		if got := failing([]byte(body)); got != want {
			t.Errorf("failing(%q) = %q, want %q", body, got, want)
		}
	}
}

// FuzzFailing: any answer body gives at most maxNames names on one line.
func FuzzFailing(f *testing.F) {
	f.Add([]byte("[+]ping ok\n[-]etcd failed: reason withheld\nreadyz check failed\n"))
	f.Add([]byte("[-]a\r\n[-]b\t c\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		got := failing(body)
		if strings.ContainsAny(got, "\n") || (got != "" && len(strings.Split(got, ", ")) > maxNames) {
			t.Errorf("failing(%q) = %q", body, got)
		}
	})
}
