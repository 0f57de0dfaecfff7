package kube_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/pkg/election"
	"github.com/vipkeeper/vipkeeper/pkg/kube"
)

// A watch (re)started during an outage is not restarted by Reconnect once
// the API is back.
func TestReconnectDuringOutage(t *testing.T) {
	api, p, cfg := startLeaseAPI(t)
	clients := connect(t, cfg, kube.Options{Node: "repro", RenewDeadline: 600 * time.Millisecond})
	var tr termTracker
	el := election.New(election.Config{LeaseName: "vip", LeaseNamespace: "kube-system", Identity: "a",
		LeaseDuration: time.Second, RenewDeadline: 600 * time.Millisecond, RetryPeriod: 200 * time.Millisecond},
		clients.Leases.CoordinationV1(), clients.Watch.CoordinationV1(), tr.notify, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { el.Start(ctx); close(done) }()
	t.Cleanup(func() { p.setBlackhole(false); cancel(); <-done })
	if !pollUntil(5*time.Second, func() bool { return api.watches.Load() == 1 }) {
		t.Fatal("no watch")
	}
	p.setBlackhole(true)
	el.Reconnect() // the watch restarts during the outage (window end, error, ...)
	time.Sleep(300 * time.Millisecond)
	p.setBlackhole(false)
	el.Reconnect() // what the watchdog's recovery does
	start := time.Now()
	if !pollUntil(3*time.Second, func() bool { return api.watches.Load() == 1 }) {
		t.Errorf("watch not re-established 3s after Reconnect")
	} else {
		t.Logf("watch back %v after Reconnect", time.Since(start).Round(time.Millisecond))
	}
}
