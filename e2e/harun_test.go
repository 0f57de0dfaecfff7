package e2e

import (
	"net/netip"
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/e2e/instruments"
	"github.com/vipkeeper/vipkeeper/e2e/lab"
)

// The harness of the HA control-plane scenarios (ha_test.go): a lab with a
// kube-apiserver on every node (lab.Options.HA), a client-go client that
// reads and writes through the VIP the whole time (lab.APIClient), and the
// owner monitor of the other scenarios.

// haMeasurement is what one run of an HA scenario measured, from the
// client's side; the benchmark tabulates it.
type haMeasurement struct {
	Scenario string `json:"scenario"`
	Check    bool   `json:"api_server_check"` // the daemons ran --api-server-check
	// TakeoverMS: fault → the VIP on another node (owner samples, 25 ms).
	TakeoverMS float64 `json:"takeover_ms,omitempty"`
	// ReadOutageMS is the client's longest time without a successful
	// read, fault → end (lab.APISummary.ReadOutage).
	ReadOutageMS float64 `json:"read_outage_ms"`
	// ReadyToServeMS: the first API server ready again → the first read
	// through the VIP that succeeded after it (all-down, bootstrap).
	ReadyToServeMS float64        `json:"ready_to_serve_ms,omitempty"`
	Client         lab.APISummary `json:"client"`
	OverlapSamples int            `json:"overlap_samples"`
	Passed         bool           `json:"passed"`
	notes
}

// haRun is one run of an HA scenario.
type haRun struct {
	t      *testing.T
	l      *lab.Lab
	m      *haMeasurement
	vip    netip.Addr
	rec    *instruments.Recording
	api    *lab.APIClient
	leader int
	pids   []int
	fault  time.Time
}

// apiCheckFlags are the local API-server check's flags at the settings of
// the targets (500 ms × fall 2, rise 2), or nil if the daemon
// lacks one of them.
func apiCheckFlags(t *testing.T) []string {
	t.Helper()
	for _, f := range []string{"--api-server-check", "--api-server-check-interval", "--api-server-check-timeout",
		"--api-server-check-rise", "--api-server-check-fall"} {
		if !lab.DaemonHasFlag(t, f) {
			return nil
		}
	}
	return []string{"--api-server-check", "--api-server-check-interval", "500ms", "--api-server-check-timeout", "400ms",
		"--api-server-check-rise", "2", "--api-server-check-fall", "2"}
}

// requireCheck returns the check's flags, or skips t: the scenario means
// nothing without the check.
func requireCheck(t *testing.T) []string {
	t.Helper()
	flags := apiCheckFlags(t)
	if flags == nil {
		t.Skip("vipkeeper run has no --api-server-check yet (issue 15 item 1): `vipkeeper run --help` does not list it")
	}
	return flags
}

// haOptions is an HA lab whose daemons run with the check when the binary
// has it (required or not).
func haOptions(t *testing.T, m *haMeasurement, required bool) lab.Options {
	t.Helper()
	var flags []string
	if required {
		flags = requireCheck(t)
	} else {
		flags = apiCheckFlags(t)
	}
	m.Check = flags != nil
	return lab.Options{HA: true, ExtraArgs: flags}
}

// startHARun starts an HA lab, waits for a leader that serves both the
// HTTP prober and the API client through the VIP, and starts recording.
func startHARun(t *testing.T, m *haMeasurement, opts lab.Options) *haRun {
	t.Helper()
	l := lab.Start(t, opts)
	vip := l.VIPs()[0]
	owner := l.WaitOwner(vip, upTimeout)
	r := &haRun{t: t, l: l, m: m, vip: vip, leader: l.NodeIndex(owner), pids: l.PIDs()}
	r.api = l.StartAPIClient(lab.APIClientOptions{VIP: vip})
	if _, ok := r.api.WaitRead(r.api.Began, 10*time.Second); !ok {
		t.Fatalf("the API client read nothing through %s within 10s: %s", vip, r.api.Summary(r.api.Began, time.Now()))
	}
	r.rec = l.Record(vip)
	time.Sleep(settle) // a baseline: the client's steady state before the fault
	t.Logf("leader %s (pids %v); before the fault: %s", owner, r.pids, r.api.Summary(r.api.Began, time.Now()))
	return r
}

func (r *haRun) mark() time.Time {
	r.fault = r.rec.Mark("fault")
	return r.fault
}

func (r *haRun) leaderName() string { return r.l.NodeName(r.leader) }

// waitOwnerOther waits until one node other than the leader holds the VIP,
// records the takeover and returns its index.
func (r *haRun) waitOwnerOther(timeout time.Duration) int {
	r.t.Helper()
	var owner string
	ok := lab.WaitFor(timeout, func() bool {
		o, err := r.l.OwnersOf(r.vip)
		if err == nil && len(o) == 1 && o[0] != r.leaderName() {
			owner = o[0]
			return true
		}
		return false
	})
	if !ok {
		r.t.Fatalf("no node other than %s holds %s within %v of the fault\n%s", r.leaderName(), r.vip, timeout, r.rec.Timeline())
	}
	r.m.TakeoverMS = ms(time.Since(r.fault))
	r.t.Logf("%s holds %s %.0f ms after the fault", owner, r.vip, r.m.TakeoverMS)
	return r.l.NodeIndex(owner)
}

// waitRead waits for a successful read through the VIP that started at
// or after since.
func (r *haRun) waitRead(since time.Time, timeout time.Duration) lab.APIRequest {
	r.t.Helper()
	got, ok := r.api.WaitRead(since, timeout)
	if !ok {
		r.t.Fatalf("no read through %s succeeded within %v: %s\n%s", r.vip, timeout, r.api.Summary(since, time.Now()), r.rec.Timeline())
	}
	return got
}

// summarize records the client's view from the fault to now, after
// letting it run for settle.
func (r *haRun) summarize() lab.APISummary {
	time.Sleep(settle)
	from := r.fault
	if r.api.Began.After(from) { // bootstrap: the client starts after the fault
		from = r.api.Began
	}
	s := r.api.Summary(from, time.Now())
	r.m.Client, r.m.ReadOutageMS = s, ms(s.ReadOutage)
	r.t.Logf("client through %s from the fault on: %s", r.vip, s)
	for _, f := range s.Failures {
		r.t.Logf("  failed request: %s", f)
	}
	return s
}

// finish checks what every HA scenario must show from the fault to the
// end: never two owners, no daemon restarted but those in exited; it
// logs the measurement as JSON.
func (r *haRun) finish(exited ...int) {
	r.t.Helper()
	all := r.rec.Between(r.fault, time.Now())
	r.m.OverlapSamples = all.OverlapSamples
	if all.OverlapSamples != 0 {
		r.t.Errorf("%d owner samples with ≥ 2 owners of %s (%v in all); want none", all.OverlapSamples, r.vip, all.Overlap.Round(time.Millisecond))
	}
	checkSameDaemons(r.t, r.l, r.pids, exited)
	r.m.Passed = !r.t.Failed()
	logSummary(r.t, r.m, r.fault, r.rec)
}
