package e2e

import (
	"context"
	"crypto/tls"
	"syscall"
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/e2e/lab"
)

// The HA control-plane scenarios of issue 15: every node runs its own
// kube-apiserver (lab.Options.HA), vipkeeper keeps the VIP in front of
// them with --api-server-check (the node's own /readyz), and a client-go
// client reads (every 50 ms) and writes (every 250 ms) through the VIP the
// whole time. Each scenario is a function of its own so that the
// benchmark runs exactly what the suite asserts.

func TestHALab(t *testing.T) { scenarioHALab(t) }
func TestHAAPIServerKill(t *testing.T) {
	scenarioHAKill(t, &haMeasurement{Scenario: "ha-apiserver-kill"})
}
func TestHAAPIServerTerm(t *testing.T) {
	scenarioHATerm(t, &haMeasurement{Scenario: "ha-apiserver-restart"})
}
func TestHARollingRestart(t *testing.T) { scenarioHARolling(t, &haMeasurement{Scenario: "ha-rolling"}) }
func TestHANodeCrash(t *testing.T)      { scenarioHANodeCrash(t, &haMeasurement{Scenario: "ha-node-crash"}) }
func TestHAAllDown(t *testing.T)        { scenarioHAAllDown(t, &haMeasurement{Scenario: "ha-all-down"}) }
func TestHABootstrap(t *testing.T)      { scenarioHABootstrap(t, &haMeasurement{Scenario: "ha-bootstrap"}) }

// Bounds of the HA scenarios' assertions. The targets are medians
// of five runs, which the benchmark reports; one run in CI on two busy
// cores gets the margin noted per bound.
const (
	// haKillBound: the holder's API server SIGKILLed → reads succeed again.
	// Target 1.5 s (fall 2 × 500 ms, the handover, a reconnect); twice that.
	haKillBound = 3 * time.Second
	// haCrashBound: the holder node crashed → reads succeed again. Target
	// lease duration + 1 s; two more seconds for the TCP retransmission
	// that meets the new holder's reset.
	haCrashBound = leaseDuration + 3*time.Second
	// haRestartTimeout bounds an API server's restart: stop (the shutdown
	// delay) and ready again (~10 s on two cores).
	haRestartTimeout = 90 * time.Second
	// haRejoin is how long a node whose API server is ready again needs to
	// be a candidate again: rise 2 × 500 ms, and a margin.
	haRejoin = 3 * time.Second
)

// ha-lab: the HA lab itself. The client reads and writes through the VIP
// with TLS checked against the VIP; no serving certificate names
// 127.0.0.1 (as kubeadm's do not), and every daemon still reaches its own
// API server there, through the kubeconfig's server name.
func scenarioHALab(t *testing.T) {
	m := &haMeasurement{Scenario: "ha-lab"}
	r := startHARun(t, m, haOptions(t, m, false))
	r.mark()
	for i := range r.l.Nodes() {
		var verr error
		err := r.l.NodeNS(i).Do(func() error {
			c, err := tls.Dial("tcp", "127.0.0.1:6443", &tls.Config{RootCAs: r.l.CAPool(), ServerName: lab.HAServerName})
			if err != nil {
				return err
			}
			defer c.Close()
			verr = c.ConnectionState().PeerCertificates[0].VerifyHostname("127.0.0.1")
			return nil
		})
		if err != nil {
			t.Errorf("%s: TLS to its own API server on 127.0.0.1 as %s: %v", r.l.NodeName(i), lab.HAServerName, err)
		}
		if verr == nil {
			t.Errorf("%s: its serving certificate names 127.0.0.1; kubeadm's do not", r.l.NodeName(i))
		}
	}
	if s := r.summarize(); s.FailedReads+s.FailedWrites != 0 || s.Reads < 20 {
		t.Errorf("with nothing happening the client saw: %s; want ≥ 20 reads and no failure", s)
	}
	r.finish()
}

// ha-apiserver-kill: SIGKILL the holder's kube-apiserver → the VIP moves to
// a node whose API server is ready; the client reads again within
// haKillBound (target 1.5 s).
func scenarioHAKill(t *testing.T, m *haMeasurement) {
	r := startHARun(t, m, haOptions(t, m, true))
	r.mark()
	r.l.KillAPIServerOn(r.leader)
	next := r.waitOwnerOther(haKillBound + 10*time.Second)
	if !r.l.APIReadyOn(next) {
		t.Errorf("the VIP moved to %s, whose API server is not ready", r.l.NodeName(next))
	}
	r.waitRead(r.fault, haKillBound+10*time.Second)
	s := r.summarize()
	if s.ReadOutage > haKillBound {
		t.Errorf("holder's API server killed: the client read nothing for %v; want ≤ %v (target 1.5 s)", s.ReadOutage.Round(time.Millisecond), haKillBound)
	}
	r.finish()
}

// ha-apiserver-restart: SIGTERM the holder's kube-apiserver, wait for its
// exit, start it again → the VIP leaves during the shutdown delay, and no
// client read fails (writes and resets are reported).
func scenarioHATerm(t *testing.T, m *haMeasurement) {
	r := startHARun(t, m, haOptions(t, m, true))
	r.mark()
	r.l.TermAPIServerOn(r.leader)
	next := r.waitOwnerOther(lab.ShutdownDelay + 10*time.Second)
	if d := time.Duration(m.TakeoverMS * float64(time.Millisecond)); d > lab.ShutdownDelay {
		t.Errorf("the VIP left %s %v after SIGTERM, after the shutdown delay (%v): clients met a closed port", r.leaderName(), d, lab.ShutdownDelay)
	}
	stopped := r.l.WaitAPIServerExitOn(r.leader)
	m.note(t, "the VIP was on %s %.0f ms after SIGTERM to %s's API server (shutdown delay %v); that server exited %v after SIGTERM",
		r.l.NodeName(next), m.TakeoverMS, r.leaderName(), lab.ShutdownDelay, stopped.Sub(r.fault).Round(time.Millisecond))
	r.l.StartAPIServerOn(r.leader)
	r.l.WaitAPIReadyOn(r.leader, haRestartTimeout)
	checkNoClosedPort(t, r.summarize(), "graceful API-server restart")
	r.finish()
}

// ha-rolling: every kube-apiserver restarted gracefully, one after the
// other, each back and eligible before the next (a rolling upgrade) → no
// client read fails.
func scenarioHARolling(t *testing.T, m *haMeasurement) {
	r := startHARun(t, m, haOptions(t, m, true))
	r.mark()
	for i := range r.l.Nodes() {
		began := time.Now()
		r.l.StopAPIServerOn(i)
		r.l.StartAPIServerOn(i)
		ready := r.l.WaitAPIReadyOn(i, haRestartTimeout)
		t.Logf("%s's API server restarted, ready %v after SIGTERM; owners now %v", r.l.NodeName(i), ready.Sub(began).Round(time.Millisecond), r.l.Owners())
		time.Sleep(haRejoin)
	}
	checkSingleOwner(t, r.l, r.vip, 5*time.Second)
	checkNoClosedPort(t, r.summarize(), "rolling API-server restart")
	r.finish()
}

// ha-node-crash: the holder node crashes (its vipkeeper and kube-apiserver
// SIGKILLed, its link down) → the client reads again within lease duration
// + 1 s (target; asserted with haCrashBound).
func scenarioHANodeCrash(t *testing.T, m *haMeasurement) {
	r := startHARun(t, m, haOptions(t, m, false))
	r.mark()
	r.l.KillNode(r.leader, syscall.SIGKILL)
	r.l.KillAPIServerOn(r.leader)
	r.l.LinkDown(r.leader)
	r.l.WaitNodeExit(r.leader, 5*time.Second)
	r.waitOwnerOther(haCrashBound + 10*time.Second)
	r.waitRead(r.fault, haCrashBound+10*time.Second)
	s := r.summarize()
	if s.ReadOutage > haCrashBound {
		t.Errorf("holder node crashed: the client read nothing for %v; want ≤ %v (target lease duration + 1 s)", s.ReadOutage.Round(time.Millisecond), haCrashBound)
	}
	r.finish(r.leader)
}

// ha-all-down: etcd stopped → every /readyz fails and, with the check on
// every node, no node keeps the VIP; etcd started again → how soon after
// the first API server is ready again the VIP serves reads.
func scenarioHAAllDown(t *testing.T, m *haMeasurement) {
	r := startHARun(t, m, haOptions(t, m, true))
	r.mark()
	r.l.StopEtcd()
	if !lab.WaitFor(60*time.Second, func() bool { return readyNodes(r.l) == 0 }) {
		t.Fatalf("etcd stopped: some /readyz still passes after 60s")
	}
	notReady := time.Now()
	if !lab.WaitFor(10*time.Second, func() bool { return len(r.l.Owners()) == 0 }) {
		t.Errorf("every API server is unready, yet %v still holds %s", r.l.Owners(), r.vip)
	}
	m.note(t, "every /readyz failed %v after etcd stopped; the VIP was released %v after that",
		notReady.Sub(r.fault).Round(time.Millisecond), time.Since(notReady).Round(time.Millisecond))
	time.Sleep(settle)
	back := r.rec.Mark("etcd-start")
	r.l.StartEtcd()
	first := firstReady(t, r.l, 60*time.Second)
	if o := r.l.WaitOwner(r.vip, 30*time.Second); o != "" {
		m.note(t, "%s held %s %v after the first API server was ready", o, r.vip, time.Since(first).Round(time.Millisecond))
	}
	read := r.waitRead(first, 30*time.Second)
	m.ReadyToServeMS = ms(read.Done().Sub(first))
	m.note(t, "etcd back; first API server ready %v later; the VIP served a read %.0f ms after that (owner %v)",
		first.Sub(back).Round(time.Millisecond), m.ReadyToServeMS, r.l.Owners())
	checkSingleOwner(t, r.l, r.vip, 10*time.Second)
	r.summarize()
	r.finish()
}

// ha-bootstrap: the daemons start before any API server (as on the first
// kubeadm init, where the API server comes up without the VIP) → nobody
// holds the VIP; once one API server is ready its node takes the VIP
// (no deadlock), then the others join.
func scenarioHABootstrap(t *testing.T, m *haMeasurement) {
	opts := haOptions(t, m, true)
	opts.NoDaemons = true
	l := lab.Start(t, opts)
	for i := range l.Nodes() {
		l.KillAPIServerOn(i)
	}
	for i := range l.Nodes() {
		l.StartNode(i)
	}
	r := &haRun{t: t, l: l, m: m, vip: l.VIPs()[0], leader: -1, pids: l.PIDs()}
	r.rec = l.Record(r.vip)
	r.mark()
	time.Sleep(2 * leaseDuration) // long enough for a wrong owner to show
	if o := l.Owners(); len(o) != 0 {
		t.Errorf("no API server runs, yet %v holds %s", o, r.vip)
	}
	l.StartAPIServerOn(0)
	first := l.WaitAPIReadyOn(0, haRestartTimeout)
	if owner := l.WaitOwner(r.vip, 30*time.Second); owner != l.NodeName(0) {
		t.Errorf("only %s's API server is ready, yet %s holds %s", l.NodeName(0), owner, r.vip)
	}
	m.TakeoverMS = ms(time.Since(first)) // here: first API server ready → the VIP held
	m.note(t, "%s held %s %.0f ms after its API server was ready", l.NodeName(0), r.vip, m.TakeoverMS)
	r.api = l.StartAPIClient(lab.APIClientOptions{VIP: r.vip})
	read := r.waitRead(first, 30*time.Second)
	m.ReadyToServeMS = ms(read.Done().Sub(first))
	m.note(t, "the first API server was ready %v after the daemons started; the VIP served a read %.0f ms after that",
		first.Sub(r.fault).Round(time.Millisecond), m.ReadyToServeMS)
	for i := 1; i < l.Nodes(); i++ {
		l.StartAPIServerOn(i)
	}
	for i := 1; i < l.Nodes(); i++ {
		l.WaitAPIReadyOn(i, haRestartTimeout)
	}
	checkSingleOwner(t, l, r.vip, 10*time.Second)
	r.summarize()
	r.finish()
}

// checkNoClosedPort checks what a graceful restart owes the client: the
// VIP left each API server before it stopped accepting, so no request was
// refused or timed out. The target is no failed read at all; a read can
// still fail on the connection reset that the VIP's move causes (the old
// connection's packets reach the new holder, which resets them), when the
// HTTP/2 transport meets the reset writing and closes the connection
// under it: client-go retries a read that meets a reset, not one closed
// that way. Such failures are logged, and counted by the benchmark.
func checkNoClosedPort(t *testing.T, s lab.APISummary, what string) {
	t.Helper()
	if n := s.FailedByClass[lab.ClassRefused] + s.FailedByClass[lab.ClassTimeout] + s.FailedByClass[lab.ClassOther]; n != 0 {
		t.Errorf("%s: %d requests refused, timed out or failed otherwise (%v); want none: the VIP must leave before the server stops", what, n, s.FailedByClass)
	}
	if s.FailedReads != 0 {
		t.Logf("%s: target missed: %d reads failed on the connection reset of the VIP's move (target 0)", what, s.FailedReads)
	}
}

// readyNodes counts the nodes whose /readyz passes.
func readyNodes(l *lab.Lab) int {
	n := 0
	for i := range l.Nodes() {
		if l.APIReadyOn(i) {
			n++
		}
	}
	return n
}

// firstReady polls every node's /readyz until one passes and returns when.
func firstReady(t *testing.T, l *lab.Lab, timeout time.Duration) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	got := make(chan time.Time, l.Nodes())
	for i := range l.Nodes() {
		go func() {
			for ctx.Err() == nil {
				if l.APIReadyOn(i) {
					got <- time.Now()
					return
				}
				time.Sleep(50 * time.Millisecond) // the figure's resolution
			}
		}()
	}
	select {
	case at := <-got:
		return at
	case <-ctx.Done():
		t.Fatalf("no API server ready within %v", timeout)
		return time.Time{}
	}
}
