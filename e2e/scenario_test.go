package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/e2e/instruments"
	"github.com/vipkeeper/vipkeeper/e2e/lab"
)

// Bounds of the suite's waits. Each is generous against the 5s/3s/1s lease
// settings, so that a wait that runs out means the daemon is wrong, not the
// machine slow.
const (
	leaseDuration = 5 * time.Second // the lab's default --lease-duration
	// upTimeout bounds the first election after a lab starts.
	upTimeout = 20 * time.Second
	// crashBound is issue 3's "another node serves within lease duration +
	// a few seconds" for a crashed leader.
	crashBound = leaseDuration + 3*time.Second
	// gracefulBound is the longest acceptable client outage of a graceful
	// handover (SIGTERM or unhealthy leader). Followers watch the Lease and
	// take it at once; issue 4's target is a median of 100 ms, measured by
	// the benchmark. A second is ten times that and still well below a
	// retry-period poll plus a neighbour-cache timeout.
	gracefulBound = time.Second
	// announceBound is the announce scenario's bound: well under any
	// neighbour-cache timeout (the client's are 10 min).
	announceBound = 2 * time.Second
	// settle is how long a test keeps recording after the outcome it waits
	// for, so that a flap right after it shows in the recording.
	settle = 2 * time.Second
	// exitTimeout bounds a SIGTERMed daemon's exit: unbind, release the
	// lease (one request with a timeout of renew-deadline/2), exit.
	exitTimeout = 10 * time.Second
)

// envStrict runs tests marked as known failures anyway.
const envStrict = "VIPKEEPER_E2E_STRICT"

// knownFailure skips t, unless VIPKEEPER_E2E_STRICT=1, because the daemon
// is known to fail it: issue is the issue whose work fixes it, why the
// evidence. The assertions of t stay as they are.
func knownFailure(t *testing.T, issue int, why string) {
	t.Helper()
	if os.Getenv(envStrict) != "1" {
		t.Skipf("known failure, issue %d: %s (%s=1 runs it anyway)", issue, why, envStrict)
	}
	t.Logf("known failure, issue %d: %s; running it because %s=1", issue, why, envStrict)
}

// measurement is what one run of a scenario measured: the benchmark
// tabulates it, every test logs it as JSON.
type measurement struct {
	Scenario       string   `json:"scenario"`
	VIP            string   `json:"vip"`
	DowntimeMS     float64  `json:"downtime_ms"` // longest client outage in the measured window
	TakeoverMS     float64  `json:"takeover_ms"` // fault → first answer from another node (0: not applicable)
	OverlapMS      float64  `json:"overlap_ms"`  // time with ≥ 2 owners, fault → end of the test
	OverlapSamples int      `json:"overlap_samples"`
	Probes         int      `json:"probes"`
	Lost           int      `json:"lost_probes"`
	Before         string   `json:"before"`
	After          string   `json:"after"`
	Servers        []string `json:"servers"`
	Recovered      bool     `json:"recovered"` // the window's last probe was answered
	Passed         bool     `json:"passed"`
	notes
}

// notes are a run's remarks, logged and kept in its measurement's JSON
// (the embedded field's Notes appears there as if the measurement's own).
type notes struct {
	Notes []string `json:"notes,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// window records the client's view of [from, to] into m.
func (m *measurement) window(s instruments.Summary) {
	m.DowntimeMS, m.Probes, m.Lost = ms(s.Downtime), s.Probes, s.Lost
	m.Before, m.After, m.Servers, m.Recovered = s.Before, s.After, s.Servers, s.Recovered
}

func (n *notes) note(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Logf(format, args...)
	n.Notes = append(n.Notes, fmt.Sprintf(format, args...))
}

// run is one scenario run: a fresh lab, its leader and a recording of the
// VIP under test.
type run struct {
	t      *testing.T
	l      *lab.Lab
	m      *measurement
	vip    netip.Addr
	rec    *instruments.Recording
	leader int   // the node that held the VIP before the fault
	pids   []int // every daemon's PID before the fault
	fault  time.Time
}

// startRun starts a lab with opts, waits for a leader of VIP vipIndex that
// serves the client, and starts recording.
func startRun(t *testing.T, m *measurement, opts lab.Options, vipIndex int) *run {
	t.Helper()
	l := lab.Start(t, opts)
	vip := l.VIPs()[vipIndex]
	m.VIP = vip.String()
	owner := l.WaitOwner(vip, upTimeout)
	l.WaitFollowers(owner, upTimeout)
	if who := l.WaitServed(vip, upTimeout); who != owner {
		t.Fatalf("VIP %s held by %s but served by %s", vip, owner, who)
	}
	r := &run{t: t, l: l, m: m, vip: vip, leader: l.NodeIndex(owner), pids: l.PIDs()}
	r.rec = l.Record(vip)
	if _, ok := r.waitProbe(r.rec.Began, 5*time.Second, func(p instruments.Probe) bool { return p.Node == owner }); !ok {
		t.Fatalf("the prober got no answer from %s within 5s:\n%s", owner, r.rec.Timeline())
	}
	t.Logf("leader %s (pids %v); fault next", owner, r.pids)
	return r
}

// mark records the fault's instant: the summary counts from here.
func (r *run) mark() time.Time {
	r.fault = r.rec.Mark("fault")
	return r.fault
}

func (r *run) leaderName() string { return r.l.NodeName(r.leader) }

// waitProbe waits for a probe since since that satisfies ok.
func (r *run) waitProbe(since time.Time, timeout time.Duration, ok func(instruments.Probe) bool) (instruments.Probe, bool) {
	return waitProbe(r.rec, since, timeout, ok)
}

func waitProbe(rec *instruments.Recording, since time.Time, timeout time.Duration, ok func(instruments.Probe) bool) (instruments.Probe, bool) {
	var found instruments.Probe
	seen := lab.WaitFor(timeout, func() bool {
		for _, p := range rec.Prober.Probes() {
			if !p.Start.Before(since) && p.OK() && ok(p) {
				found = p
				return true
			}
		}
		return false
	})
	return found, seen
}

// waitServedByOther waits until a node other than the old leader answers
// on the VIP, records the takeover time and returns that node's index.
func (r *run) waitServedByOther(timeout time.Duration) int {
	r.t.Helper()
	old := r.leaderName()
	p, ok := r.waitProbe(r.fault, timeout, func(p instruments.Probe) bool { return p.Node != old })
	if !ok {
		r.t.Fatalf("no node other than %s served %s within %v of the fault\n%s", old, r.vip, timeout, r.rec.Timeline())
	}
	r.m.TakeoverMS = ms(p.Start.Sub(r.fault))
	r.t.Logf("%s serves %s %v after the fault", p.Node, r.vip, p.Start.Sub(r.fault).Round(time.Millisecond))
	return r.l.NodeIndex(p.Node)
}

// summarize records the client's view from the fault to now into the
// measurement, after letting the recording run for settle.
func (r *run) summarize() instruments.Summary {
	time.Sleep(settle)
	s := r.rec.Between(r.fault, time.Now())
	r.m.window(s)
	return s
}

// finish checks what every scenario must show from the fault to the end:
// no instant with two owners, and every daemon not in exited alive with
// the PID it had before the fault. It logs the measurement as JSON.
func (r *run) finish(exited ...int) {
	r.t.Helper()
	all := r.rec.Between(r.fault, time.Now())
	r.m.OverlapMS, r.m.OverlapSamples = ms(all.Overlap), all.OverlapSamples
	if all.OverlapSamples != 0 {
		r.t.Errorf("%d owner samples with ≥ 2 owners of %s (%v in all, at most %d owners); want none",
			all.OverlapSamples, r.vip, all.Overlap.Round(time.Millisecond), all.MaxOwners)
	}
	checkSameDaemons(r.t, r.l, r.pids, exited)
	r.m.Passed = !r.t.Failed()
	logSummary(r.t, r.m, r.fault, r.rec)
}

// killGracefully SIGTERMs node i's daemon and checks that it exits 0.
func killGracefully(t *testing.T, l *lab.Lab, i int) {
	t.Helper()
	l.KillNode(i, syscall.SIGTERM)
	if code := l.WaitNodeExit(i, exitTimeout); code != 0 {
		t.Errorf("vipkeeper on %s exited %d after SIGTERM; want 0", l.NodeName(i), code)
	}
}

// proveCandidate shows that node i takes part in the election: it SIGTERMs
// every other live daemon, the current VIP owner last, and checks that node
// i then holds and serves the VIP. It returns the indexes it stopped.
func (r *run) proveCandidate(i int) []int {
	r.t.Helper()
	owners := r.l.Owners()
	var stopped []int
	for k := range r.l.Nodes() {
		if k != i && r.l.NodeAlive(k) && !slices.Contains(owners, r.l.NodeName(k)) {
			killGracefully(r.t, r.l, k)
			stopped = append(stopped, k)
		}
	}
	for k := range r.l.Nodes() {
		if k != i && r.l.NodeAlive(k) {
			killGracefully(r.t, r.l, k)
			stopped = append(stopped, k)
		}
	}
	name := r.l.NodeName(i)
	if owner := r.l.WaitOwner(r.vip, crashBound); owner != name {
		r.t.Fatalf("after stopping every other daemon, %s holds %s; want %s", owner, r.vip, name)
	}
	if who := r.l.WaitServed(r.vip, 5*time.Second); who != name {
		r.t.Errorf("after stopping every other daemon, %s serves %s; want %s", who, r.vip, name)
	}
	r.t.Logf("%s (pid %d, never restarted) took %s once the others were gone: it is a candidate", name, r.l.NodePID(i), r.vip)
	return stopped
}

// checkSingleOwner checks that exactly one node holds vip and serves it.
func checkSingleOwner(t *testing.T, l *lab.Lab, vip netip.Addr, timeout time.Duration) string {
	t.Helper()
	owner := l.WaitOwner(vip, timeout)
	if who := l.WaitServed(vip, timeout); who != owner {
		t.Errorf("%s held by %s but served by %s", vip, owner, who)
	}
	return owner
}

// healthFlags are the daemon's health-check flags for the health scenarios:
// every node probes its own HTTP helper's HealthPath, once a second, and
// turns unhealthy after two failures. It skips t if the binary lacks one.
func healthFlags(t *testing.T) []string {
	t.Helper()
	for _, f := range []string{"--health-http", "--health-interval", "--health-timeout", "--health-rise", "--health-fall"} {
		if !lab.DaemonHasFlag(t, f) {
			t.Skipf("vipkeeper run has no %s yet (issue 4 item 1, being wired): `vipkeeper run --help` does not list it", f)
		}
	}
	return []string{"--health-http", lab.HealthURL(lab.DefaultPort), "--health-interval", "1s",
		"--health-timeout", "500ms", "--health-rise", "2", "--health-fall", "2"}
}

// checkSameDaemons fails t if a daemon other than those of the nodes in
// exited is no longer the process it was before the fault (pids): a
// scenario must never need a restart.
func checkSameDaemons(t *testing.T, l *lab.Lab, pids []int, exited []int) {
	t.Helper()
	for i, pid := range pids {
		if slices.Contains(exited, i) {
			continue
		}
		if now := l.NodePID(i); now != pid || !l.NodeAlive(i) {
			t.Errorf("daemon of %s: pid %d before the fault, now pid %d alive=%v; want the same daemon, never restarted",
				l.NodeName(i), pid, now, l.NodeAlive(i))
		}
	}
}

// logSummary logs a run's measurement m (JSON) and its timeline.
func logSummary(t *testing.T, m any, fault time.Time, rec *instruments.Recording) {
	t.Helper()
	b, _ := json.Marshal(m)
	t.Logf("summary %s", b)
	t.Logf("timeline (t=0: recording start; fault at %+.3fs):\n%s", fault.Sub(rec.Began).Seconds(), rec.Timeline())
}

// settleAfter gives the old holder time to notice what happened (its
// deadline passed, the Lease moved) and anything wrong (taking the VIP
// back, a second owner) time to show, then checks the whole window since
// the fault: recovered on node next, and one owner now, the Lease's
// holder. It returns that owner.
func (r *run) settleAfter(t *testing.T, next int) string {
	t.Helper()
	time.Sleep(leaseDuration + settle)
	s := r.rec.Between(r.fault, time.Now())
	r.m.window(s)
	checkRecovered(t, s, r.l.NodeName(next))
	owner := checkSingleOwner(t, r.l, r.vip, 5*time.Second)
	checkLeaseHolder(t, r.l, owner)
	return owner
}

// endServed checks the whole window since the fault — one owner now, the
// Lease's holder, and the client served at the end — and finishes the run.
func (r *run) endServed(t *testing.T) {
	t.Helper()
	s := r.rec.Between(r.fault, time.Now())
	r.m.window(s)
	owner := checkSingleOwner(t, r.l, r.vip, 10*time.Second)
	checkLeaseHolder(t, r.l, owner)
	if !s.Recovered {
		t.Errorf("the client is not served at the end")
	}
	r.finish()
}
