package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func newTestServer(t *testing.T) (*Server, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "vipkeeper_test", Help: "A test gauge."})
	g.Set(7)
	reg.MustRegister(g)
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return New(ln, reg, slog.New(slog.DiscardHandler)), reg
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

func TestEndpoints(t *testing.T) {
	s, _ := newTestServer(t)
	var keeperErr, apiErr error
	s.AddHealthzCheck("keeper", func(*http.Request) error { return keeperErr })
	s.AddReadyzCheck("election", func(*http.Request) error { return nil })
	s.AddReadyzCheck("api", func(*http.Request) error { return apiErr })

	tests := []struct {
		name       string
		keeper     error
		api        error
		path       string
		wantCode   int
		wantBody   string
		wantSubstr string
	}{
		{name: "healthy", path: "/healthz", wantCode: 200, wantBody: "ok"},
		{name: "ready", path: "/readyz", wantCode: 200, wantBody: "ok"},
		{name: "ready verbose", path: "/readyz?verbose", wantCode: 200,
			wantBody: "[+]election ok\n[+]api ok\nreadyz check passed\n"},
		{name: "keeper stuck", keeper: context.DeadlineExceeded, path: "/healthz", wantCode: 500,
			wantBody: "[-]keeper failed: context deadline exceeded\nhealthz check failed\n"},
		{name: "keeper stuck does not make it unready", keeper: context.DeadlineExceeded, path: "/readyz", wantCode: 200, wantBody: "ok"},
		{name: "API cut", api: errors.New("API server unreachable"), path: "/readyz?verbose", wantCode: 500,
			wantBody: "[+]election ok\n[-]api failed: API server unreachable\nreadyz check failed\n"},
		{name: "metrics", path: "/metrics", wantCode: 200, wantSubstr: "vipkeeper_test 7\n"},
		{name: "unknown path", path: "/debug", wantCode: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keeperErr, apiErr = tt.keeper, tt.api
			code, body := get(t, s.Handler(), tt.path)
			if code != tt.wantCode {
				t.Errorf("GET %s: %d, want %d\n%s", tt.path, code, tt.wantCode, body)
			}
			if tt.wantBody != "" && body != tt.wantBody {
				t.Errorf("GET %s body:\n%q\nwant\n%q", tt.path, body, tt.wantBody)
			}
			if !strings.Contains(body, tt.wantSubstr) {
				t.Errorf("GET %s body lacks %q:\n%s", tt.path, tt.wantSubstr, body)
			}
		})
	}
}

func TestPostRefused(t *testing.T) {
	s, _ := newTestServer(t)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/healthz", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: %d, want 405", rec.Code)
	}
}

// Start serves on the listener until the context ends.
func TestStart(t *testing.T) {
	s, _ := newTestServer(t)
	s.AddHealthzCheck("always", func(*http.Request) error { return nil })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	resp, err := http.Get("http://" + s.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok" {
		t.Errorf("GET /healthz over TCP: %d %q", resp.StatusCode, b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Start: %v", err)
	}
}

func TestListenBusy(t *testing.T) {
	s, _ := newTestServer(t)
	_, err := Listen(s.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "listen tcp "+s.Addr().String()+": bind: address already in use") {
		t.Errorf("Listen on a busy address: %v", err)
	}
}
