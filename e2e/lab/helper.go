package lab

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// The lab re-executes the test binary (inside a namespace, via
// `ip netns exec`) as its helper processes; these variables select the
// helper and pass its settings.
const (
	envHelper       = "VIPKEEPER_LAB_HELPER" // "http"
	envHelperNode   = "VIPKEEPER_LAB_NODE"
	envHelperListen = "VIPKEEPER_LAB_LISTEN"
	envHelperSick   = "VIPKEEPER_LAB_SICK_FILE" // while this file exists, /healthz answers 503
)

// HealthPath is the helper's health endpoint: 200 "ok", or 503 while the
// node is made unhealthy (SetHealthy).
const HealthPath = "/healthz"

// runHelper runs the helper named by envHelper and exits; it returns false
// in an ordinary test process.
func runHelper() bool {
	switch h := os.Getenv(envHelper); h {
	case "":
		return false
	case "http":
		if err := serveName(os.Getenv(envHelperListen), os.Getenv(envHelperNode), os.Getenv(envHelperSick)); err != nil {
			fmt.Fprintln(os.Stderr, "lab http helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	default:
		fmt.Fprintf(os.Stderr, "lab: unknown helper %q\n", h)
		os.Exit(2)
	}
	return true
}

// serveName answers every request with name until SIGTERM, except
// HealthPath, which answers 503 while the file sick exists. It listens on
// the wildcard address ("[::]:port", dual-stack), so a VIP serves the moment
// it is bound.
func serveName(listen, name, sick string) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "http", "node", name)
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			if r.URL.Path != HealthPath {
				fmt.Fprintln(w, name)
				return
			}
			if _, err := os.Stat(sick); sick != "" && err == nil {
				http.Error(w, "unhealthy (lab fault)", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ok")
		}),
		ReadHeaderTimeout: time.Second, // probes send their request at once
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	log.Info("serving", "listen", listen)
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}
