package kube_test

import (
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/pkg/kube"
)

// TestCloseIdleConnections: after one request on each client, their
// pooled connections are idle; CloseIdleConnections must close them.
func TestCloseIdleConnections(t *testing.T) {
	_, p, cfg := startLeaseAPI(t)
	clients, err := kube.NewClients(cfg, 600*time.Millisecond, "idle-test")
	if err != nil {
		t.Fatal(err)
	}
	for name, probe := range map[string]func() error{
		"leases": func() error { return kube.ReadyzProbe(clients.Leases)(t.Context()) },
		"watch":  func() error { return kube.ReadyzProbe(clients.Watch)(t.Context()) },
		"probe":  func() error { return kube.ReadyzProbe(clients.Probe)(t.Context()) },
	} {
		if err := probe(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if !pollUntil(2*time.Second, func() bool { open, _, _ := p.counts(); return open == 3 }) {
		open, _, _ := p.counts()
		t.Fatalf("%d connections after one request per client; want 3", open)
	}
	clients.CloseIdleConnections()
	if !pollUntil(2*time.Second, func() bool { open, _, _ := p.counts(); return open == 0 }) {
		open, _, _ := p.counts()
		t.Errorf("CloseIdleConnections left %d of 3 idle connections open", open)
	}
}
