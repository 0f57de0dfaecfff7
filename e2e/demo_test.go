package e2e

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/e2e/instruments"
	"github.com/vipkeeper/vipkeeper/e2e/lab"
)

// envDemo runs TestDemo, the live demonstration behind `make demo`
// (scripts/demo.sh builds this test binary and runs it).
const envDemo = "VIPKEEPER_DEMO"

// TestDemo starts a three-node lab and shows, live, who holds the VIP and
// who answers the client while the leader is stopped gracefully and then
// the next one crashes. It is a demonstration, run only with VIPKEEPER_DEMO=1.
func TestDemo(t *testing.T) {
	if os.Getenv(envDemo) != "1" {
		t.Skipf("the live demo runs only with %s=1 (make demo)", envDemo)
	}
	out := os.Stdout
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	say("Starting the lab: etcd, a kube-apiserver and three nodes (n1, n2, n3), each a network namespace running vipkeeper…")
	began := time.Now()
	l := lab.Start(t, lab.Options{})
	vip := l.VIPs()[0]
	leader := l.WaitOwner(vip, upTimeout)
	l.WaitServed(vip, upTimeout)
	say("Lab up in %v. The client (192.0.2.50) asks http://%s/ every 20 ms who answers.\n", time.Since(began).Round(100*time.Millisecond), l.Target(vip))

	rec := l.Record(vip)
	v := &liveView{l: l, vip: vip, rec: rec, out: out, tty: isTerminal(out), began: time.Now()}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { v.run(ctx) })
	halt := func() { stop(); wg.Wait() }
	defer halt()
	// Ctrl-C: lab.Main's handler tears the lab down and exits; stop
	// drawing first so that the screen says what is happening.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		if _, ok := <-sigs; ok {
			halt()
			say("\nInterrupted: stopping every process the lab started and deleting its namespaces…")
		}
	}()

	v.phase(fmt.Sprintf("steady: %s holds the VIP and answers", leader))
	time.Sleep(4 * time.Second)

	i := l.NodeIndex(leader)
	graceful := rec.Mark("graceful")
	v.phase(fmt.Sprintf("kill -TERM %s's vipkeeper: it unbinds, releases the Lease; a follower takes over", leader))
	l.KillNode(i, syscall.SIGTERM)
	next, ok := waitProbe(rec, graceful, 10*time.Second, func(p instruments.Probe) bool { return p.Node != leader })
	if !ok {
		halt()
		t.Fatalf("nobody took over from %s within 10s\n%s", leader, rec.Timeline())
	}
	time.Sleep(4 * time.Second)
	gracefulSum := rec.Between(graceful, time.Now())

	j := l.NodeIndex(next.Node)
	crash := rec.Mark("crash")
	v.phase(fmt.Sprintf("kill -KILL %s's vipkeeper and unplug it: the others wait out the 5 s lease", next.Node))
	l.KillNode(j, syscall.SIGKILL)
	l.WaitNodeExit(j, 5*time.Second)
	l.LinkDown(j)
	last, ok := waitProbe(rec, crash, 20*time.Second, func(p instruments.Probe) bool { return p.Node != next.Node })
	if !ok {
		halt()
		t.Fatalf("nobody took over from %s within 20s\n%s", next.Node, rec.Timeline())
	}
	time.Sleep(3 * time.Second)
	crashSum := rec.Between(crash, time.Now())
	v.phase("done")
	halt()

	say("\nWhat the client saw:")
	say("  graceful  %s → %s: no answer for %v (%d of %d probes lost), %d samples with two owners",
		leader, next.Node, gracefulSum.Downtime.Round(time.Millisecond), gracefulSum.Lost, gracefulSum.Probes, gracefulSum.OverlapSamples)
	say("  crash     %s → %s: no answer for %v (%d of %d probes lost), %d samples with two owners",
		next.Node, last.Node, crashSum.Downtime.Round(time.Millisecond), crashSum.Lost, crashSum.Probes, crashSum.OverlapSamples)
	say("\nCleaning up the lab (processes by PID, then the namespaces)…")
}

// liveView redraws a few lines every 200 ms: each node's daemon and whether
// it holds the VIP, the Lease holder, and the client's recent answers.
type liveView struct {
	l     *lab.Lab
	vip   netip.Addr
	rec   *instruments.Recording
	out   io.Writer
	tty   bool
	began time.Time

	mu   sync.Mutex // guards what
	what string     // the current phase
}

func (v *liveView) phase(what string) {
	v.mu.Lock()
	v.what = what
	v.mu.Unlock()
	if !v.tty {
		fmt.Fprintf(v.out, "[%5.1fs] %s\n", time.Since(v.began).Seconds(), what)
	}
}

func (v *liveView) run(ctx context.Context) {
	const every = 200 * time.Millisecond // the brief's refresh rate; cheap next to the prober
	tick := time.NewTicker(every)
	defer tick.Stop()
	drawn, lastStatus := 0, ""
	for {
		frame, status := v.frame()
		if v.tty {
			if drawn > 0 {
				fmt.Fprintf(v.out, "\x1b[%dA", drawn) // back to the frame's first line
			}
			for _, line := range frame {
				fmt.Fprintf(v.out, "\x1b[2K%s\n", line)
			}
			drawn = len(frame)
		} else if status != lastStatus {
			// Not a terminal: a line per change instead of a redrawn frame.
			fmt.Fprintf(v.out, "[%5.1fs] %s\n", time.Since(v.began).Seconds(), status)
			lastStatus = status
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// frame is the view's lines, and a one-line status for non-terminals.
func (v *liveView) frame() ([]string, string) {
	v.mu.Lock()
	what := v.what
	v.mu.Unlock()
	owners, _ := v.l.OwnersOf(v.vip)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	holder, err := v.l.LeaseHolder(ctx)
	cancel()
	if err != nil {
		holder = "?"
	}
	lines := []string{fmt.Sprintf("t=%5.1fs  %s", time.Since(v.began).Seconds(), what)}
	for i := range v.l.Nodes() {
		name := v.l.NodeName(i)
		daemon := "vipkeeper pid " + strconv.Itoa(v.l.NodePID(i))
		if !v.l.NodeAlive(i) {
			daemon = "vipkeeper stopped"
		}
		vipState := "  -  "
		if slices.Contains(owners, name) {
			vipState = "holds " + v.vip.String()
		}
		lease := ""
		if holder == name {
			lease = "  ← Lease holder"
		}
		lines = append(lines, fmt.Sprintf("  %s  %-22s %-18s%s", name, daemon, vipState, lease))
	}
	answers, last := strip(v.rec.Prober.Probes(), 60)
	lines = append(lines, fmt.Sprintf("  client: %-60s  %s", answers, last))
	return lines, fmt.Sprintf("VIP on %v, Lease holder %q, client: %s", owners, holder, last)
}

// strip renders the last n probes, the newest on the right: the answering
// node's number, or "·" for no answer. last describes the newest.
func strip(probes []instruments.Probe, n int) (answers, last string) {
	if len(probes) > n {
		probes = probes[len(probes)-n:]
	}
	var b strings.Builder
	last = "nobody yet"
	for _, p := range probes {
		if !p.OK() {
			b.WriteString("·")
			last = "no answer (" + p.Err + ")"
			continue
		}
		b.WriteString(strings.TrimPrefix(p.Node, "n"))
		last = p.Node + " answers"
	}
	return b.String(), last
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
