package kube_test

import (
	"context"
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/vipkeeper/vipkeeper/pkg/kube"
	"github.com/vipkeeper/vipkeeper/pkg/watchdog"
)

// apiServer is an httptest TLS server answering /readyz and counting what
// it serves; hung, it accepts connections and answers nothing.
type apiServer struct {
	*httptest.Server
	served atomic.Int64
	hung   atomic.Bool
}

func newAPIServer(t *testing.T) *apiServer {
	t.Helper()
	a := &apiServer{}
	stop := make(chan struct{})
	a.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.hung.Load() {
			select { // until the client gives up or the test ends
			case <-r.Context().Done():
			case <-stop:
			}
			return
		}
		a.served.Add(1)
		if r.URL.Path == "/readyz" {
			w.Write([]byte("ok"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"kind":"Lease","apiVersion":"coordination.k8s.io/v1","metadata":{"name":"vip","namespace":"kube-system"}}`))
	}))
	a.Config.ErrorLog = log.New(io.Discard, "", 0) // a refused certificate is a case under test
	a.StartTLS()
	t.Cleanup(a.Close)
	t.Cleanup(func() { close(stop) }) // runs first
	return a
}

// kubeconfig is what a kubeadm admin.conf gives: the server named by the
// controlPlaneEndpoint (httptest's certificate carries example.com, as a
// kubeadm certificate carries the endpoint), and the cluster CA.
func kubeconfig(srv *httptest.Server, host string) *rest.Config {
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return &rest.Config{Host: host, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}
}

// refused returns an https URL on which nothing listens.
func refused(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "https://" + addr
}

func TestUseServers(t *testing.T) {
	good := newAPIServer(t)
	tests := []struct {
		name       string
		host       string // the kubeconfig's server
		serverName string // the kubeconfig's tls-server-name
		servers    func() []string
		wantErr    string // "" means the request succeeds on good
	}{
		{name: "first refused, second used", host: "https://example.com:6443",
			servers: func() []string { return []string{refused(t), good.URL} }},
		{name: "only the second", host: "https://example.com:6443",
			servers: func() []string { return []string{good.URL} }},
		// The kubeconfig names the VIP (kube-vip#684): it is never dialled;
		// its tls-server-name is kept.
		{name: "kubeconfig names the VIP", host: "https://192.0.2.100:6443", serverName: "example.com",
			servers: func() []string { return []string{refused(t), good.URL} }},
		{name: "certificate lacks the kubeconfig's name", host: "https://192.0.2.100:6443",
			servers: func() []string { return []string{good.URL} }, wantErr: "192.0.2.100"},
		{name: "none answers", host: "https://example.com:6443",
			servers: func() []string { return []string{refused(t), refused(t)} }, wantErr: "no API server answers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := kubeconfig(good.Server, tt.host)
			cfg.TLSClientConfig.ServerName = tt.serverName
			c := connect(t, cfg, kube.Options{Servers: tt.servers(), RenewDeadline: 2 * time.Second})
			before := good.served.Load()
			_, err := c.Leases.CoordinationV1().Leases("kube-system").Get(t.Context(), "vip", metav1.GetOptions{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Get = %v, want an error mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if good.served.Load() == before {
				t.Error("the answering server did not serve the request")
			}
		})
	}
}

// TestWatchdogFailover: the preferred server accepts connections but stops
// answering. The watchdog, with the daemon's reactions, reports the API
// down; Failover leaves the hung server; the next probe reaches the second
// server and the API is reported up again, the lease client on it too.
func TestWatchdogFailover(t *testing.T) {
	first, second := newAPIServer(t), newAPIServer(t)
	cfg := kubeconfig(first.Server, "https://example.com:6443")
	c := connect(t, cfg, kube.Options{Servers: []string{first.URL, second.URL}, RenewDeadline: 400 * time.Millisecond})
	changes := make(chan bool, 16)
	wd := watchdog.New(watchdog.Config{Interval: 200 * time.Millisecond, Timeout: 150 * time.Millisecond, FailAfter: 2},
		c.Readyz, watchdog.Reactions{Conns: c, Report: []func(bool){func(up bool) { changes <- up }}}, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- wd.Start(ctx) }()
	defer func() { cancel(); <-done }()

	waitFor(t, "the first server in use", func() bool { return first.served.Load() > 0 })
	first.hung.Store(true)
	for _, want := range []bool{false, true} {
		select {
		case got := <-changes:
			if got != want {
				t.Fatalf("watchdog reported up=%v, want %v", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("watchdog did not report up=%v within 5s", want)
		}
	}
	before := second.served.Load()
	if _, err := c.Leases.CoordinationV1().Leases("kube-system").Get(t.Context(), "vip", metav1.GetOptions{}); err != nil {
		t.Fatalf("lease client after failover: %v", err)
	}
	if second.served.Load() == before {
		t.Error("the lease request did not reach the second server")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
