package kube_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/vipkeeper/vipkeeper/pkg/election"
	"github.com/vipkeeper/vipkeeper/pkg/kube"
	"github.com/vipkeeper/vipkeeper/pkg/watchdog"
)

// TestNoLeakOverOutageCycles runs the daemon's API side — the clients, the
// Elector and the watchdog with the daemon's reactions — through 50 API
// outages. Each outage blackholes the network (connections hang, nothing is
// reset) until the watchdog reports the API down and the term is lost; each
// recovery must win the lease back without a restart. Afterwards the
// goroutines, file descriptors and connections must be back near where they
// were before the first outage, and stopping everything must leave nothing
// behind.
func TestNoLeakOverOutageCycles(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped under -short: 50 API outage/recovery cycles take about a minute")
	}
	if _, err := os.ReadDir("/proc/self/fd"); err != nil {
		t.Skipf("cannot count file descriptors: %v", err)
	}
	const (
		cycles        = 50
		minOutage     = 400 * time.Millisecond
		renewDeadline = 600 * time.Millisecond
	)
	deadline := time.Now().Add(90 * time.Second)
	began := time.Now()
	preG, preFD := runtime.NumGoroutine(), countFDs()

	quiet := slog.New(slog.DiscardHandler)
	if os.Getenv("LEAK_DEBUG") != "" {
		quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	klog.SetSlogLogger(quiet) // client-go logs every failed renewal
	t.Cleanup(klog.ClearLogger)
	api, p, cfg := startLeaseAPI(t)
	clients := connect(t, cfg, kube.Options{Node: "leak-test", RenewDeadline: renewDeadline})

	var tr termTracker
	el := election.New(election.Config{
		LeaseName:      "vip",
		LeaseNamespace: "kube-system",
		Identity:       "node-a",
		LeaseDuration:  time.Second,
		RenewDeadline:  renewDeadline,
		RetryPeriod:    200 * time.Millisecond,
	}, clients.Leases.CoordinationV1(), clients.Watch.CoordinationV1(), tr.notify, quiet)
	var recoveries atomic.Int64
	var recoveredAt atomic.Int64 // UnixNano of the last recovery report
	// Interval 200ms, not 100ms: the Probe client's rate limiter (5 QPS)
	// fails every other probe at 10/s once its burst is spent; daemon.go
	// never probes faster than every 200ms either.
	wd := watchdog.New(watchdog.Config{Interval: 200 * time.Millisecond, Timeout: 150 * time.Millisecond, FailAfter: 2},
		clients.Readyz, watchdog.Reactions{Conns: clients, Elections: []watchdog.Campaign{el}, Report: []func(bool){func(up bool) {
			if up {
				recoveredAt.Store(time.Now().UnixNano())
				recoveries.Add(1)
			}
		}}}, quiet)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var startErr error
	wg.Add(2)
	go func() { defer wg.Done(); startErr = el.Start(ctx) }()
	go func() { defer wg.Done(); wd.Start(ctx) }()
	stopped := make(chan struct{})
	stop := sync.OnceValue(func() bool {
		cancel()
		go func() { wg.Wait(); close(stopped) }()
		select {
		case <-stopped:
			return true
		case <-time.After(10 * time.Second):
			return false
		}
	})
	t.Cleanup(func() { stop() })
	t.Cleanup(func() { p.setBlackhole(false) }) // runs first: let the lease be released

	if !pollUntil(5*time.Second, func() bool { return tr.leader() && wd.Reachable() && api.watches.Load() == 1 }) {
		t.Fatalf("warm-up: leader=%v reachable=%v watches=%d", tr.leader(), wd.Reachable(), api.watches.Load())
	}
	time.Sleep(500 * time.Millisecond) // a few renewals: pools and watch in their steady state
	baseG, baseFD := runtime.NumGoroutine(), countFDs()
	baseOpen, _, _ := p.counts()
	t.Logf("baseline after warm-up: goroutines %d, fds %d, proxied conns %d (before the test: goroutines %d, fds %d)",
		baseG, baseFD, baseOpen, preG, preFD)

	var outages, toLeader, toReachable []time.Duration
	var maxOpen, watchDown int
	for i := range cycles {
		if time.Now().After(deadline) {
			t.Fatalf("cycle %d: the test's 90s budget is spent", i)
		}
		term, ups := tr.term(), recoveries.Load()
		p.setBlackhole(true)
		down := time.Now()
		if !pollUntil(3*time.Second, func() bool { return tr.lostSince(term) && !wd.Reachable() }) {
			t.Fatalf("cycle %d: %v into the outage: term %d lost=%v, API reachable=%v",
				i, time.Since(down).Round(time.Millisecond), term, tr.lostSince(term), wd.Reachable())
		}
		time.Sleep(minOutage - time.Since(down))
		if open, _, _ := p.counts(); open > maxOpen {
			maxOpen = open
		}
		p.setBlackhole(false)
		up := time.Now()
		outages = append(outages, up.Sub(down))
		if !pollUntil(5*time.Second, tr.leader) {
			t.Fatalf("cycle %d: not leader again %v after the network came back (recoveries %d→%d)",
				i, time.Since(up).Round(time.Millisecond), ups, recoveries.Load())
		}
		toLeader = append(toLeader, time.Since(up))
		if !pollUntil(5*time.Second, func() bool { return recoveries.Load() > ups && wd.Reachable() }) {
			t.Fatalf("cycle %d: the watchdog did not report the recovery within 5s", i)
		}
		toReachable = append(toReachable, time.Unix(0, recoveredAt.Load()).Sub(up))
		// The recovery restarted the Lease watch (el.Reconnect) some
		// 100ms ago at least: the new one should be served by now. Not a
		// leak, so only counted (waiting here would change the timing).
		if api.watches.Load() == 0 || api.watched.Load() < up.UnixNano() {
			watchDown++
		}
	}
	elapsed := time.Since(began)

	// The network is back. Connections that died in an outage and that the
	// clients still hold would be reset by the real peer in the end: do so.
	open, dead, accepted := p.counts()
	deadBy, oldest := p.deadBy(func(a string) string {
		if v, ok := api.callers.Load(a); ok {
			return v.(string)
		}
		return "connected, no request seen"
	})
	t.Logf("dead connections still held: %v, oldest %v", deadBy, oldest)
	p.closeDead()
	var g, fds int
	pollUntil(5*time.Second, func() bool { // back to the baseline, or as near as it gets
		g, fds = runtime.NumGoroutine(), countFDs()
		open, _, _ = p.counts()
		return g <= baseG && fds <= baseFD && open <= baseOpen && api.watches.Load() == 1 && tr.leader()
	})
	t.Logf("after %d cycles in %v: goroutines %d (baseline %d), fds %d (baseline %d), proxied conns %d (baseline %d; peak %d at an outage's end; %d dead ones still held before the reset; %d accepted in all), watches being served %d",
		cycles, elapsed.Round(time.Millisecond), g, baseG, fds, baseFD, open, baseOpen, maxOpen, dead, accepted, api.watches.Load())
	t.Logf("per cycle: outage median %v; back to leader after the network returned: median %v, max %v; watchdog recovery report: median %v; recoveries %d; cycles whose recovery left the Lease watch down: %d",
		medianOf(outages), medianOf(toLeader), slices.Max(toLeader).Round(time.Millisecond), medianOf(toReachable), recoveries.Load(), watchDown)
	if g > baseG+10 {
		t.Errorf("goroutines: %d after the cycles, %d before; want ≤ %d\n%s", g, baseG, baseG+10, goroutineDump())
	}
	if fds > baseFD+5 {
		t.Errorf("file descriptors: %d after the cycles, %d before; want ≤ %d", fds, baseFD, baseFD+5)
	}
	if open > baseOpen+3 {
		t.Errorf("proxied connections: %d after the cycles, %d before; want ≤ %d", open, baseOpen, baseOpen+3)
	}
	if !tr.leader() {
		t.Errorf("not leader after the dead connections were reset")
	}

	// Stop everything: nothing of Start, the clients or the fakes may stay.
	if !stop() {
		t.Fatalf("Elector.Start or Watchdog.Start did not return within 10s of cancel\n%s", goroutineDump())
	}
	if startErr != nil {
		t.Errorf("Elector.Start: %v", startErr)
	}
	clients.CloseIdleConnections()
	p.close()
	api.close()
	pollUntil(5*time.Second, func() bool { g = runtime.NumGoroutine(); return g <= preG })
	if g > preG+3 {
		t.Errorf("goroutines: %d after stopping everything, %d before the test; want ≤ %d\n%s", g, preG, preG+3, goroutineDump())
	}
	t.Logf("after stopping: goroutines %d (before the test %d), fds %d (before the test %d)", g, preG, countFDs(), preFD)
}

// startLeaseAPI starts the fake API server behind a blackhole proxy and
// returns a REST configuration that reaches it through the proxy. Both stop
// at cleanup.
func startLeaseAPI(t *testing.T) (*leaseAPI, *blackholeProxy, *rest.Config) {
	t.Helper()
	api := newLeaseAPI()
	srv := httptest.NewUnstartedServer(api)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes cut by the proxy
	srv.StartTLS()
	api.srv = srv
	t.Cleanup(api.close)
	p, err := newBlackholeProxy(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return api, p, &rest.Config{Host: "https://" + p.addr(), TLSClientConfig: rest.TLSClientConfig{CAData: ca}}
}

// termTracker follows the Elector's terms: leader while the latest Elected
// term is newer than the latest Lost one (an Elected may come after its
// Lost).
type termTracker struct {
	mu            sync.Mutex
	elected, lost uint64
}

func (tr *termTracker) notify(e election.Event) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	switch e.Kind {
	case election.Elected:
		tr.elected = max(tr.elected, e.Term)
	case election.Lost:
		tr.lost = max(tr.lost, e.Term)
	}
}

func (tr *termTracker) leader() bool { tr.mu.Lock(); defer tr.mu.Unlock(); return tr.elected > tr.lost }
func (tr *termTracker) term() uint64 { tr.mu.Lock(); defer tr.mu.Unlock(); return tr.elected }
func (tr *termTracker) lostSince(term uint64) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.lost >= term
}

// pollUntil polls cond every 5ms for up to limit.
func pollUntil(limit time.Duration, cond func() bool) bool {
	for end := time.Now().Add(limit); ; time.Sleep(5 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

func countFDs() int {
	fds, _ := os.ReadDir("/proc/self/fd")
	return len(fds)
}

func medianOf(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2].Round(time.Millisecond)
}

func goroutineDump() string {
	var b bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&b, 1)
	return b.String()
}
