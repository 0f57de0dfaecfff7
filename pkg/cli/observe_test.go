package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/vipkeeper/vipkeeper/pkg/announce"
	"github.com/vipkeeper/vipkeeper/pkg/config"
	"github.com/vipkeeper/vipkeeper/pkg/guard"
	"github.com/vipkeeper/vipkeeper/pkg/keeper"
)

// fakeKeeper answers pings unless stuck; fakeAPI is the watchdog's verdict.
type fakeKeeper struct{ stuck atomic.Bool }

func (k *fakeKeeper) Ping(ctx context.Context) error {
	if k.stuck.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

type fakeAPI struct{ down atomic.Bool }

func (a *fakeAPI) Reachable() bool { return !a.down.Load() }

func testConfig(addr string) *config.Config {
	return &config.Config{
		NodeName: "n1", LeaseName: "vipkeeper", LeaseNamespace: "kube-system", MetricsAddr: addr,
		VIPs: []netip.Addr{netip.MustParseAddr("192.0.2.100")},
	}
}

func newTestObservability(t *testing.T) (*observability, *fakeKeeper, *fakeAPI) {
	t.Helper()
	o, err := newObservability(testConfig("127.0.0.1:0"), fake.NewClientset(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // serve and stop at once: closes the listener
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = o.server.Start(ctx)
	})
	k, api := &fakeKeeper{}, &fakeAPI{}
	if err := o.watch(k, api, announce.New(announce.Config{Interface: "eth0"}, nil), guard.New(guard.Config{Interface: "eth0"}, nil)); err != nil {
		t.Fatal(err)
	}
	return o, k, api
}

func fetch(t *testing.T, o *observability, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	o.server.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

func TestReadyz(t *testing.T) {
	o, _, api := newTestObservability(t)
	if code, body := fetch(t, o, "/readyz"); code != 500 || !strings.Contains(body, "[-]election failed: the election is not running") {
		t.Errorf("before the election runs: %d %q", code, body)
	}
	ctx, cancel := context.WithCancel(t.Context())
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- o.elect(func(ctx context.Context) error { close(started); <-ctx.Done(); return nil })(ctx)
	}()
	<-started
	if code, body := fetch(t, o, "/readyz"); code != 200 || body != "ok" {
		t.Errorf("election running, API up: %d %q", code, body)
	}
	api.down.Store(true)
	if code, body := fetch(t, o, "/readyz"); code != 500 || !strings.Contains(body, "[-]api-server failed: the API server is unreachable") {
		t.Errorf("API cut: %d %q", code, body)
	}
	api.down.Store(false)
	cancel()
	<-done
	if code, _ := fetch(t, o, "/readyz"); code != 500 {
		t.Errorf("after the election stopped: %d, want 500", code)
	}
}

func TestHealthzStuckKeeper(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o, k, _ := newTestObservability(t)
		if code, body := fetch(t, o, "/healthz"); code != 200 || body != "ok" {
			t.Errorf("keeper answering: %d %q", code, body)
		}
		k.stuck.Store(true)
		start := time.Now()
		code, body := fetch(t, o, "/healthz")
		if code != 500 || !strings.Contains(body, "keeper loop did not answer within 1s") {
			t.Errorf("keeper stuck: %d %q", code, body)
		}
		if took := time.Since(start); took != pingTimeout {
			t.Errorf("/healthz took %v, want the ping timeout %v", took, pingTimeout)
		}
	})
}

func TestMetricsEndpoint(t *testing.T) {
	o, _, _ := newTestObservability(t)
	o.observer().Observe(keeper.Transition{Change: keeper.Acquired, At: time.Unix(1700000000, 0), VIPs: []netip.Addr{netip.MustParseAddr("192.0.2.100")}})
	o.observer().Observe(keeper.Transition{Change: keeper.Bound, VIPs: []netip.Addr{netip.MustParseAddr("192.0.2.100")}})
	code, body := fetch(t, o, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`vipkeeper_leader{lease="kube-system/vipkeeper"} 1`,
		`vipkeeper_leader_since_timestamp_seconds 1.7e+09`,
		`vipkeeper_vip_bound{family="ipv4"} 1`,
		`vipkeeper_announcements_sent_total{protocol="arp",trigger="takeover"} 0`,
		`vipkeeper_build_info{`,
		`go_goroutines `,
		`process_start_time_seconds `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "192.0.2.100") {
		t.Error("/metrics exposes a VIP in a label")
	}
}

func TestMetricsAddrBusy(t *testing.T) {
	o, _, _ := newTestObservability(t)
	_, err := newObservability(testConfig(o.server.Addr().String()), fake.NewClientset(), slog.New(slog.DiscardHandler))
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Source != "--metrics-addr" || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("busy --metrics-addr: %v, want a *config.Error from --metrics-addr", err)
	}
}

func TestMetricsDisabled(t *testing.T) {
	o, err := newObservability(testConfig(""), fake.NewClientset(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if o.server != nil || len(o.components()) != 1 {
		t.Errorf("empty --metrics-addr: server %v, %d components; want no server, only the Events writer", o.server, len(o.components()))
	}
}
