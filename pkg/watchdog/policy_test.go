package watchdog

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestDecide: which actions follow each probe, by the outcomes so far.
func TestDecide(t *testing.T) {
	tests := []struct {
		name      string
		failAfter int
		results   string   // one probe per character: + answered, - failed
		want      []string // the actions after each probe ("" for none)
	}{
		{"healthy", 2, "+++", []string{"", "", ""}},
		{"one failure is tolerated", 2, "-+-+", []string{"", "", "", ""}},
		{"the second failure fails over", 2, "--", []string{"", "down failover"}},
		{"still down: every further two fail over", 2, "--------",
			[]string{"", "down failover", "", "failover", "", "failover", "", "failover"}},
		{"back: heal, no failover", 2, "---+", []string{"", "down failover", "", "up heal"}},
		{"a success resets the count", 2, "---+---",
			[]string{"", "down failover", "", "up heal", "", "down failover", ""}},
		{"fail after one: every failure fails over", 1, "---+-",
			[]string{"down failover", "failover", "failover", "up heal", "down failover"}},
		{"fail after three", 3, "---------",
			[]string{"", "", "down failover", "", "", "failover", "", "", "failover"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := state{reachable: true}
			var got []string
			for _, r := range tt.results {
				var a action
				s, a = decide(s, r == '+', tt.failAfter)
				got = append(got, a.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
		})
	}
}

// String names an action's parts, for the tables.
func (a action) String() string {
	var parts []string
	switch a.change {
	case wentDown:
		parts = append(parts, "down")
	case cameBack:
		parts = append(parts, "up")
	}
	if a.failover {
		parts = append(parts, "failover")
	}
	if a.heal {
		parts = append(parts, "heal")
	}
	return strings.Join(parts, " ")
}

// recorder is a fake of the connections, the elections and the reports:
// it writes down every call, in order.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) add(s string) { r.mu.Lock(); r.calls = append(r.calls, s); r.mu.Unlock() }

func (r *recorder) Failover()             { r.add("failover") }
func (r *recorder) CloseIdleConnections() { r.add("close idle") }

type fakeElection struct {
	r    *recorder
	name string
}

func (e fakeElection) Blind()     { e.r.add("blind " + e.name) }
func (e fakeElection) Reconnect() { e.r.add("reconnect " + e.name) }
func (e fakeElection) Kick()      { e.r.add("kick " + e.name) }

func (r *recorder) reactions() Reactions {
	report := func(name string) func(bool) {
		return func(up bool) { r.add(fmt.Sprintf("report %s up=%v", name, up)) }
	}
	return Reactions{
		Conns:     r,
		Elections: []Campaign{fakeElection{r, "lease"}, fakeElection{r, "node"}},
		Report:    []func(bool){report("metrics"), report("keeper"), report("services")},
	}
}

// TestReactions: what each action does, in which order.
func TestReactions(t *testing.T) {
	tests := []struct {
		name string
		a    action
		want []string
	}{
		{"nothing", action{}, nil},
		{"down: elections blinded first", action{change: wentDown, failover: true}, []string{
			"blind lease", "blind node", "failover", "report metrics up=false", "report keeper up=false", "report services up=false"}},
		{"further failover", action{failover: true}, []string{"failover"}},
		{"back: connections, then elections, then reports", action{change: cameBack, heal: true}, []string{
			"close idle", "reconnect lease", "kick lease", "reconnect node", "kick node",
			"report metrics up=true", "report keeper up=true", "report services up=true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{}
			r.reactions().do(tt.a)
			if diff := cmp.Diff(tt.want, r.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWatchdogReacts drives the watchdog under synctest: a hung server
// makes it fail over at the second failure and every second one after,
// and its return heals once.
func TestWatchdogReacts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		results := "+-----++"
		var mu sync.Mutex
		i := 0
		probe := func(ctx context.Context) error {
			mu.Lock()
			ok := i >= len(results) || results[i] == '+'
			i++
			mu.Unlock()
			if ok {
				return nil
			}
			<-ctx.Done() // hung: the probe's timeout ends it
			return ctx.Err()
		}
		r := &recorder{}
		w := New(Config{Interval: time.Second, Timeout: 300 * time.Millisecond, FailAfter: 2}, probe,
			Reactions{Conns: r, Elections: []Campaign{fakeElection{r, "lease"}},
				Report: []func(bool){func(up bool) { r.add(fmt.Sprintf("report up=%v", up)) }}},
			slog.New(slog.DiscardHandler))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- w.Start(ctx) }()
		time.Sleep(time.Duration(len(results))*time.Second - time.Millisecond)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		want := []string{
			"blind lease", "failover", "report up=false", // second failure
			"failover",                                                      // fourth
			"close idle", "reconnect lease", "kick lease", "report up=true", // back
		}
		if diff := cmp.Diff(want, r.calls); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
		if !w.Reachable() {
			t.Error("not reachable after the server came back")
		}
	})
}
