package kube_test

import (
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/pkg/kube"
)

// TestCloseIdleConnections: after one request on each client — the Events
// and the services clients too — their pooled connections are idle;
// CloseIdleConnections must close every one of them.
func TestCloseIdleConnections(t *testing.T) {
	_, p, cfg := startLeaseAPI(t)
	c := connect(t, cfg, kube.Options{Node: "idle-test", RenewDeadline: 600 * time.Millisecond, Services: true, ServicesQPS: 5, ServicesBurst: 10})
	clients := everyClient(c)
	for name, cs := range clients {
		if err := readyz(t.Context(), cs); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	want := len(clients) // one connection per client: none shares a transport
	if !pollUntil(2*time.Second, func() bool { open, _, _ := p.counts(); return open == want }) {
		open, _, _ := p.counts()
		t.Fatalf("%d connections after one request per client; want %d", open, want)
	}
	c.CloseIdleConnections()
	if !pollUntil(2*time.Second, func() bool { open, _, _ := p.counts(); return open == 0 }) {
		open, _, _ := p.counts()
		t.Errorf("CloseIdleConnections left %d of %d idle connections open", open, want)
	}
}
