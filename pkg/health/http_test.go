package health

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// probeTimeout bounds a test probe generously (TLS under -race on a busy
// machine is slow); hangTimeout is for the probes that are meant to time out.
const (
	probeTimeout = 5 * time.Second
	hangTimeout  = 200 * time.Millisecond
)

func testHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("/204", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/503", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/503", http.StatusFound) })
	mux.HandleFunc("/hang", func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	return mux
}

// probeHTTP builds c's probe and runs it once, as runCheck does, with
// probeTimeout or, for a "/hang" URL, hangTimeout.
func probeHTTP(t *testing.T, c Check) error {
	t.Helper()
	c.Name, c.Kind = "http-0", KindHTTP
	if c.StatusMin == 0 {
		c.StatusMin, c.StatusMax = DefaultStatusMin, DefaultStatusMax
	}
	cfg := Config{Interval: 2 * probeTimeout, Timeout: probeTimeout}
	if strings.HasSuffix(c.Target, "/hang") {
		cfg.Timeout = hangTimeout
	}
	probe, err := newHTTPProbe(c, cfg)
	if err != nil {
		t.Fatalf("newHTTPProbe: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), cfg.Timeout)
	defer cancel()
	return probe(ctx)
}

func TestHTTPProbe(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(testHandler())
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	tests := []struct {
		name       string
		path       string
		lo, hi     int
		wantReason string // "" for a good probe
	}{
		{"200 in default range", "/ok", 0, 0, ""},
		{"204 in default range", "/204", 0, 0, ""},
		{"503 outside default range", "/503", 0, 0, "status 503"},
		{"redirect judged, not followed", "/redirect", 0, 0, ""},
		{"redirect outside 2xx", "/redirect", 200, 299, "status 302"},
		{"exact status", "/204", 204, 204, ""},
		{"exact status mismatch", "/ok", 204, 204, "status 200"},
		{"404", "/missing", 0, 0, "status 404"},
		{"wide range accepts 503", "/503", 200, 599, ""},
		{"hanging handler times out", "/hang", 0, 0, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := probeHTTP(t, Check{Target: srv.URL + tt.path, StatusMin: tt.lo, StatusMax: tt.hi})
			if took := time.Since(start); tt.path == "/hang" && took > 10*hangTimeout {
				t.Errorf("probe took %v, timeout is %v", took, hangTimeout)
			}
			checkReason(t, err, tt.wantReason)
		})
	}
	if got, want := conns.Load(), int32(len(tests)); got != want {
		t.Errorf("server saw %d connections for %d probes: connections must not be reused", got, want)
	}
}

func checkReason(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("probe failed: %v (%s)", err, ShortReason(err))
	case want != "" && err == nil:
		t.Errorf("probe succeeded, want failure %q", want)
	case want != "" && ShortReason(err) != want:
		t.Errorf("probe error %v: reason %q, want %q", err, ShortReason(err), want)
	}
}

func TestHTTPProbeConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(testHandler())
	url := srv.URL + "/ok"
	srv.Close()
	checkReason(t, probeHTTP(t, Check{Target: url}), "connection refused")
}

func TestHTTPSProbe(t *testing.T) {
	srv := httptest.NewUnstartedServer(testHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	plain := httptest.NewServer(testHandler())
	t.Cleanup(plain.Close)

	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		check      Check
		wantReason string
	}{
		{"unknown CA", Check{Target: srv.URL + "/ok"}, "tls: certificate signed by unknown authority"},
		{"CA file", Check{Target: srv.URL + "/ok", CAFile: caFile}, ""},
		{"CA file, bad status", Check{Target: srv.URL + "/503", CAFile: caFile}, "status 503"},
		{"insecure skip verify", Check{Target: srv.URL + "/ok", InsecureSkipVerify: true}, ""},
		{"https to a plain server", Check{Target: "https://" + plain.Listener.Addr().String() + "/ok", InsecureSkipVerify: true}, "http: server gave HTTP response to HTTPS client"},
		{"http to a TLS server", Check{Target: "http://" + srv.Listener.Addr().String() + "/ok"}, "status 400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkReason(t, probeHTTP(t, tt.check), tt.wantReason)
		})
	}
}

func TestHTTPBadCAFile(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{garbage, filepath.Join(dir, "missing.pem")} {
		c := Check{Name: "http-0", Kind: KindHTTP, Target: "https://192.0.2.1/", StatusMin: 200, StatusMax: 399, CAFile: file}
		_, err := newHTTPProbe(c, DefaultConfig())
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "health-ca-file" {
			t.Errorf("CA file %s: error %v, want a health-ca-file *FieldError", file, err)
		}
	}
}

func TestShortReason(t *testing.T) {
	long := errors.New(strings.Repeat("é", 40))
	tests := []struct {
		err  error
		want string
	}{
		{&statusError{code: 503}, "status 503"},
		{fmt.Errorf("ping: %w", errNoReply), "no reply"},
		{&url.Error{Op: "Get", URL: "http://192.0.2.1/", Err: context.DeadlineExceeded}, "timeout"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, "connection refused"},
		{&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, "connection reset"},
		{os.NewSyscallError("sendto", syscall.EHOSTUNREACH), "host unreachable"},
		{os.NewSyscallError("sendto", syscall.ENETUNREACH), "network unreachable"},
		{fmt.Errorf("get: %w", io.EOF), "connection closed"},
		{&tls.CertificateVerificationError{Err: x509.HostnameError{Certificate: &x509.Certificate{}, Host: "192.0.2.1"}}, "tls: certificate is not valid for the host"},
		{&tls.CertificateVerificationError{Err: x509.CertificateInvalidError{Reason: x509.Expired}}, "tls: invalid certificate"},
		{long, strings.Repeat("é", 30) + "…"},
	}
	for _, tt := range tests {
		if got := ShortReason(tt.err); got != tt.want {
			t.Errorf("ShortReason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
