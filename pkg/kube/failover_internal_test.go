package kube

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/rest"
)

// TestServersOrder drives the dialer with a fake network and clock: a
// failed server is passed over for failoverCooldown, then preferred again.
func TestServersOrder(t *testing.T) {
	type step struct {
		advance  time.Duration
		down     []string // addresses that refuse from this step on ("" clears)
		failover bool     // call Failover before dialling
		want     string   // the address the dial ends on; "" means it fails
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"preferred first", []step{{want: "198.51.100.1:6443"}, {want: "198.51.100.1:6443"}}},
		{"refused moves on and stays away while cooling", []step{
			{down: []string{"198.51.100.1:6443"}, want: "198.51.100.2:6443"},
			{down: []string{""}, advance: failoverCooldown - time.Second, want: "198.51.100.2:6443"},
			{advance: 2 * time.Second, want: "198.51.100.1:6443"},
		}},
		{"failover leaves a server that accepts", []step{
			{want: "198.51.100.1:6443"},
			{failover: true, want: "198.51.100.2:6443"},
			{failover: true, want: "198.51.100.3:443"},
			{failover: true, want: "198.51.100.1:6443"}, // all cooling: back in order of preference
		}},
		{"a cooling server beats none", []step{
			{failover: true, want: "198.51.100.2:6443"},
			{down: []string{"198.51.100.2:6443", "198.51.100.3:443"}, want: "198.51.100.1:6443"},
		}},
		{"none answers", []step{{down: []string{"198.51.100.1:6443", "198.51.100.2:6443", "198.51.100.3:443"}, want: ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &rest.Config{Host: "https://192.0.2.100:6443"}
			s, err := useServers(cfg, []string{"https://198.51.100.1:6443", "https://198.51.100.2:6443", "https://198.51.100.3"}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Host != "https://198.51.100.1:6443" || cfg.TLSClientConfig.ServerName != "192.0.2.100" {
				t.Errorf("cfg Host %q ServerName %q, want the first server and the kubeconfig's name", cfg.Host, cfg.TLSClientConfig.ServerName)
			}
			now := time.Unix(1000, 0)
			s.now = func() time.Time { return now }
			down := map[string]bool{}
			s.dial = func(_ context.Context, _, addr string) (net.Conn, error) {
				if down[addr] {
					return nil, errors.New("connection refused")
				}
				c, _ := net.Pipe()
				return c, nil
			}
			for i, st := range tt.steps {
				now = now.Add(st.advance)
				for _, a := range st.down {
					if a == "" {
						clear(down)
					} else {
						down[a] = true
					}
				}
				if st.failover {
					s.Failover()
				}
				c, err := cfg.Dial(t.Context(), "tcp", "192.0.2.100:6443")
				got := ""
				if err == nil {
					got = c.(*conn).server.addr
					c.Close()
				}
				if diff := cmp.Diff(st.want, got); diff != "" {
					t.Fatalf("step %d: dialled (-want +got):\n%s (err %v)", i, diff, err)
				}
			}
			if n := len(s.conns); n != 0 {
				t.Errorf("%d closed connections still tracked", n)
			}
		})
	}
}

// TestFailoverClosesConnections: Failover closes the connections to the
// server it leaves, and only those.
func TestFailoverClosesConnections(t *testing.T) {
	cfg := &rest.Config{Host: "https://192.0.2.100:6443"}
	s, err := useServers(cfg, []string{"https://198.51.100.1:6443", "https://198.51.100.2:6443"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var peers []net.Conn
	s.dial = func(context.Context, string, string) (net.Conn, error) {
		a, b := net.Pipe()
		peers = append(peers, b)
		return a, nil
	}
	first, _ := cfg.Dial(t.Context(), "tcp", "")
	s.Failover()
	second, _ := cfg.Dial(t.Context(), "tcp", "")
	defer second.Close()
	if _, err := first.Write([]byte("x")); err == nil {
		t.Error("the connection to the server left behind is still open")
	}
	go peers[1].Read(make([]byte, 1))
	if _, err := second.Write([]byte("x")); err != nil {
		t.Errorf("the connection to the new server was closed: %v", err)
	}
}
