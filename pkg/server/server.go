package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one health check; nil means healthy. It runs on the request's
// goroutine and must respect the request's context.
type Check func(*http.Request) error

// Timeouts of the HTTP server. Scrapes and probes are small requests from
// the kubelet or Prometheus; these only bound a misbehaving client.
const (
	readHeaderTimeout = 5 * time.Second
	writeTimeout      = 30 * time.Second // a scrape of a few hundred series takes milliseconds
	idleTimeout       = 90 * time.Second
	shutdownTimeout   = 2 * time.Second // in-flight scrapes finish; the daemon is stopping
)

// Listen opens the TCP listener for addr (host:port). Called before the
// daemon starts anything, so a busy or invalid address fails the start.
func Listen(addr string) (net.Listener, error) {
	// net's error names the address already: "listen tcp 127.0.0.1:9479:
	// bind: address already in use".
	return net.Listen("tcp", addr)
}

type namedCheck struct {
	name  string
	check Check
}

// Server serves /metrics, /healthz and /readyz on one listener.
type Server struct {
	ln      net.Listener
	log     *slog.Logger
	handler http.Handler

	mu      sync.Mutex // guards the fields below
	healthz []namedCheck
	readyz  []namedCheck
}

// New returns a Server that will serve on ln the metrics gathered by g. It
// starts nothing.
func New(ln net.Listener, g prometheus.Gatherer, log *slog.Logger) *Server {
	s := &Server{ln: ln, log: log.With("component", "server")}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelError),
	}))
	// A failing liveness check is worth a warning: the kubelet is about to
	// restart the process. Unreadiness is logged by whatever caused it.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		s.serveChecks(w, r, s.checks(false), slog.LevelWarn)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		s.serveChecks(w, r, s.checks(true), slog.LevelDebug)
	})
	s.handler = mux
	return s
}

// AddHealthzCheck adds a liveness check: failing means the process should
// be restarted.
func (s *Server) AddHealthzCheck(name string, c Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.healthz = append(s.healthz, namedCheck{name, c})
}

// AddReadyzCheck adds a readiness check.
func (s *Server) AddReadyzCheck(name string, c Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readyz = append(s.readyz, namedCheck{name, c})
}

func (s *Server) checks(ready bool) []namedCheck {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ready {
		return append([]namedCheck(nil), s.readyz...)
	}
	return append([]namedCheck(nil), s.healthz...)
}

// Handler returns the server's routes, for tests.
func (s *Server) Handler() http.Handler { return s.handler }

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Start serves until ctx ends, then lets in-flight requests finish for a
// moment. It returns nil then, and the error if serving fails.
func (s *Server) Start(ctx context.Context) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(s.ln) }()
	s.log.Info("serving", "addr", s.ln.Addr().String(), "paths", "/metrics /healthz /readyz")
	select {
	case err := <-served:
		return fmt.Errorf("serve on %s: %w", s.ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", s.ln.Addr(), err)
	}
	return nil
}

// serveChecks runs every check in order and answers 200 "ok" when all
// pass, 500 with the failures otherwise. With ?verbose every check is
// listed.
func (s *Server) serveChecks(w http.ResponseWriter, r *http.Request, checks []namedCheck, level slog.Level) {
	_, verbose := r.URL.Query()["verbose"]
	var b strings.Builder
	failed := false
	for _, c := range checks {
		if err := c.check(r); err != nil {
			failed = true
			fmt.Fprintf(&b, "[-]%s failed: %v\n", c.name, err)
			s.log.Log(r.Context(), level, "check failed", "path", r.URL.Path, "check", c.name, "err", err)
		} else if verbose {
			fmt.Fprintf(&b, "[+]%s ok\n", c.name)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if failed {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(&b, "%s check failed\n", strings.TrimPrefix(r.URL.Path, "/"))
		_, _ = w.Write([]byte(b.String()))
		return
	}
	if verbose {
		fmt.Fprintf(&b, "%s check passed\n", strings.TrimPrefix(r.URL.Path, "/"))
		_, _ = w.Write([]byte(b.String()))
		return
	}
	_, _ = w.Write([]byte("ok"))
}
