//go:build linux

package witness

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/netnstest"
)

// Two witnesses on the ends of a veth pair, each in its own namespace,
// hear each other through real packet sockets (their own frames, which a
// packet socket sees too, are not counted); once the link is cut, the
// evidence goes stale within the window.
func TestIntegrationVeth(t *testing.T) {
	netnstest.RequireRoot(t, "creates network namespaces and packet sockets")
	p := netnstest.NewPair(t, "vkwit")
	p.A.IP(t, "link", "set", p.IfA, "up")
	p.B.IP(t, "link", "set", p.IfB, "up")

	const interval, window = 50 * time.Millisecond, 300 * time.Millisecond
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var reportsA atomic.Int64
	a := New(Config{Interface: p.IfA, Group: "kube-system/vipkeeper", Node: "node-a", Interval: interval, Window: window,
		Report: []func(time.Time){func(time.Time) { reportsA.Add(1) }}}, log)
	b := New(Config{Interface: p.IfB, Group: "kube-system/vipkeeper", Node: "node-b", Interval: interval, Window: window}, log)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 2)
	go func() { done <- p.A.Do(func() error { return a.Start(ctx) }) }()
	go func() { done <- p.B.Do(func() error { return b.Start(ctx) }) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("Start: %v", err)
			}
		}
	})

	netnstest.WaitFor(t, 5*time.Second, "both ends hear their peer", func() (bool, string) {
		pa, pb := a.Peers(), b.Peers()
		return pa == 1 && pb == 1 && reportsA.Load() > 0, fmt.Sprintf("peers a=%d b=%d, reports to a=%d", pa, pb, reportsA.Load())
	})

	// Cut the link: a must stop hearing b within the window.
	p.B.IP(t, "link", "set", p.IfB, "down")
	netnstest.WaitFor(t, 5*time.Second, "a's evidence goes stale", func() (bool, string) {
		return a.Peers() == 0, fmt.Sprintf("peers a=%d, last heard %v ago", a.Peers(), time.Since(a.Heard()))
	})
}
