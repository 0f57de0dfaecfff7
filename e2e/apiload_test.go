package e2e

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/e2e/lab"
)

// steadyAPITarget is the control-plane VIP's budget: requests per second
// from all three daemons together, with nothing changing — the holder's
// renewals (one per retry period) and almost nothing else.
const steadyAPITarget = 1.2

// envSteadyWindow overrides the steady-state window (a Go duration);
// default 60s.
const envSteadyWindow = "VIPKEEPER_STEADY_WINDOW"

// steadyLoad is the daemons' API load with nothing changing, from the API
// server's audit log.
type steadyLoad struct {
	WindowS   float64            `json:"window_s"`
	PerSecond float64            `json:"per_second"`
	ByRequest map[string]float64 `json:"by_request"`
	ByNode    map[string]float64 `json:"by_node"`
	// LocalCheck is the daemons' checks of their own API server
	// (--api-server-check), apart from PerSecond: in a real control plane
	// each goes to the node's own kube-apiserver, not to a shared one.
	LocalCheck float64 `json:"local_check_per_second"`
}

// measureSteadyLoad brings up three nodes (lease 5s/3s/1s, one
// control-plane VIP pair, each checking its "own" API server as the
// static pod does — here the lab's one), lets them settle and counts the
// daemons' requests over the window.
func measureSteadyLoad(t *testing.T) steadyLoad {
	window := time.Minute
	if v := os.Getenv(envSteadyWindow); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 10*time.Second {
			t.Fatalf("%s=%q: want a duration ≥ 10s", envSteadyWindow, v)
		}
		window = d
	}
	l := lab.Start(t, lab.Options{Audit: true, ExtraArgs: []string{"--api-server", lab.APIServerURL(), "--api-server-check"}})
	for _, vip := range l.VIPs() {
		l.WaitOwner(vip, 20*time.Second)
	}
	// Past start-up: the first campaigns, watches and Events.
	time.Sleep(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), window+time.Minute)
	defer cancel()
	before, err := l.APIRequests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(window) // nothing from the test meanwhile
	after, err := l.APIRequests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	load := after.Since(before)
	t.Logf("API requests over %v with nothing changing: %s", load.Window.Round(time.Millisecond), load)
	return steadyLoad{WindowS: load.Window.Seconds(), PerSecond: load.NodesPerSecond, ByRequest: load.NodeRequests, ByNode: load.ByNode,
		LocalCheck: load.LocalCheckPerSecond}
}

// TestSteadyStateAPILoad holds the daemons' steady-state API load against
// its budget: a benchmark figure, not a timing assertion.
func TestSteadyStateAPILoad(t *testing.T) {
	load := measureSteadyLoad(t)
	if load.PerSecond > steadyAPITarget {
		t.Errorf("the daemons made %.2f API requests/s with nothing changing; budget ≤ %.1f", load.PerSecond, steadyAPITarget)
	}
}
