package health

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

const sec = time.Second

// TestRiseFall drives one check through scripted probe results (one per
// DefaultInterval, starting at 0) and compares the notifications.
func TestRiseFall(t *testing.T) {
	waiting := "check c waiting for first probe"
	failing := "check c failing: boom"
	tests := []struct {
		name       string
		rise, fall int
		script     string
		want       []note
	}{
		{"starts unhealthy, healthy after rise", 2, 2, "++", []note{
			{0, false, waiting, false, map[string]bool{"c": false}},
			{1 * sec, true, "", false, map[string]bool{"c": true}},
		}},
		{"one failure is absorbed", 2, 2, "++-+--++", []note{
			{0, false, waiting, false, map[string]bool{"c": false}},
			{1 * sec, true, "", false, map[string]bool{"c": true}},
			{5 * sec, false, failing, false, map[string]bool{"c": false}},
			{7 * sec, true, "", false, map[string]bool{"c": true}},
		}},
		{"rise and fall of 1 follow every probe", 1, 1, "+-+", []note{
			{0, false, waiting, false, map[string]bool{"c": false}},
			{0, true, "", false, map[string]bool{"c": true}},
			{1 * sec, false, failing, false, map[string]bool{"c": false}},
			{2 * sec, true, "", false, map[string]bool{"c": true}},
		}},
		{"a failure restarts the rise count", 3, 1, "++-+++", []note{
			{0, false, waiting, false, map[string]bool{"c": false}},
			{5 * sec, true, "", false, map[string]bool{"c": true}},
		}},
		{"fall counts consecutive failures", 2, 3, "++--+---", []note{
			{0, false, waiting, false, map[string]bool{"c": false}},
			{1 * sec, true, "", false, map[string]bool{"c": true}},
			{7 * sec, false, failing, false, map[string]bool{"c": false}},
		}},
		{"never healthy: one notification, reason moves on silently", 2, 2, "-----", []note{
			{0, false, waiting, false, map[string]bool{"c": false}},
		}},
		{"steady: notify only on change", 1, 2, "++++++", []note{
			{0, false, waiting, false, map[string]bool{"c": false}},
			{0, true, "", false, map[string]bool{"c": true}},
		}},
		{"timeouts are failures", 1, 2, "+TT+", []note{
			{0, false, waiting, false, map[string]bool{"c": false}},
			{0, true, "", false, map[string]bool{"c": true}},
			{2*sec + DefaultTimeout, false, "check c failing: timeout", false, map[string]bool{"c": false}},
			{3 * sec, true, "", false, map[string]bool{"c": true}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := startHarness(t, testConfig(tt.rise, tt.fall, "c"), map[string]string{"c": tt.script}, nil)
				time.Sleep(time.Duration(len(tt.script)-1)*DefaultInterval + DefaultInterval/2)
				synctest.Wait()
				h.stop(t)
				got := h.rec.get()
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("notifications (-want +got):\n%s", diff)
				}
				for _, n := range got {
					if n.Healthy != (n.Reason == "") {
						t.Errorf("notification %+v: Reason must be empty exactly when healthy", n)
					}
				}
			})
		})
	}
}

// TestAggregateNeedsEveryCheck: healthy only when all checks are up; a
// change of one check while unhealthy is still notified.
func TestAggregateNeedsEveryCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, testConfig(2, 1, "a", "b"), map[string]string{"a": "++++-+", "b": "--++++"}, nil)
		time.Sleep(5*sec + sec/2)
		synctest.Wait()
		h.stop(t)
		want := []note{
			{0, false, "check a waiting for first probe", false, map[string]bool{"a": false, "b": false}},
			{1 * sec, false, "check b failing: boom", false, map[string]bool{"a": true, "b": false}},
			{3 * sec, true, "", false, map[string]bool{"a": true, "b": true}},
			{4 * sec, false, "check a failing: boom", false, map[string]bool{"a": false, "b": true}},
		}
		if diff := cmp.Diff(want, h.rec.get()); diff != "" {
			t.Errorf("notifications (-want +got):\n%s", diff)
		}
	})
}

func TestZeroChecksHealthyAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, DefaultConfig(), nil, nil)
		time.Sleep(10 * sec)
		h.stop(t)
		want := []note{{0, true, "", false, map[string]bool{}}}
		if diff := cmp.Diff(want, h.rec.get()); diff != "" {
			t.Errorf("notifications (-want +got):\n%s", diff)
		}
	})
}

// TestLinkDownIsImmediate: the link going down makes the node unhealthy at
// the same instant, with the checks' states untouched, and coming back
// restores health at once. Before the first reading no notification is sent.
func TestLinkDownIsImmediate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		links := newFakeLinks()
		cfg := testConfig(1, 3, "c")
		cfg.Interface = "eth0"
		h := startHarness(t, cfg, map[string]string{"c": "+"}, links)
		synctest.Wait()
		if got := h.rec.get(); len(got) != 0 {
			t.Errorf("notifications before the first link reading: %+v", got)
		}

		links.states <- linkState{up: true}
		synctest.Wait()
		time.Sleep(1500 * time.Millisecond)
		links.states <- linkState{detail: "no carrier"}
		synctest.Wait()
		links.states <- linkState{detail: "administratively down"} // same state: no notification
		synctest.Wait()
		time.Sleep(sec)
		links.states <- linkState{up: true}
		synctest.Wait()
		links.states <- linkState{up: true}
		synctest.Wait()
		h.stop(t)

		up := map[string]bool{"c": true}
		wantNotes := []note{
			{0, true, "", false, up},
			{1500 * time.Millisecond, false, "link down", true, up},
			{2500 * time.Millisecond, true, "", false, up},
		}
		if diff := cmp.Diff(wantNotes, h.rec.get()); diff != "" {
			t.Errorf("notifications (-want +got):\n%s", diff)
		}
		logs := h.logs.String()
		if n := strings.Count(logs, `msg="link down"`); n != 1 {
			t.Errorf("logged %d link-down transitions, want 1:\n%s", n, logs)
		}
		if n := strings.Count(logs, `msg="link up"`); n != 2 {
			t.Errorf("logged %d link-up transitions, want 2 (first reading and recovery):\n%s", n, logs)
		}
	})
}

// TestLinkDownAtStart: zero checks and a link that starts down.
func TestLinkDownAtStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		links := newFakeLinks()
		cfg := DefaultConfig()
		cfg.Interface = "eth0"
		h := startHarness(t, cfg, nil, links)
		links.states <- linkState{detail: "not found"}
		synctest.Wait()
		time.Sleep(sec)
		links.states <- linkState{up: true}
		synctest.Wait()
		h.stop(t)
		want := []note{
			{0, false, "link down", true, map[string]bool{}},
			{1 * sec, true, "", false, map[string]bool{}},
		}
		if diff := cmp.Diff(want, h.rec.get()); diff != "" {
			t.Errorf("notifications (-want +got):\n%s", diff)
		}
	})
}

// TestLinkUpKeepsChecksState: a check that fell while the link was down
// stays down when the link returns, until it rises again.
func TestLinkUpKeepsChecksState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		links := newFakeLinks()
		cfg := testConfig(2, 1, "c")
		cfg.Interface = "eth0"
		h := startHarness(t, cfg, map[string]string{"c": "++-+++"}, links)
		synctest.Wait() // the first probe (good) before the first link reading
		links.states <- linkState{up: true}
		time.Sleep(1500 * time.Millisecond) // c up at 1s
		links.states <- linkState{detail: "no carrier"}
		time.Sleep(sec) // c fails at 2s
		links.states <- linkState{up: true}
		time.Sleep(2 * sec) // c good at 3s and 4s: up at 4s
		synctest.Wait()
		h.stop(t)
		want := []note{
			{0, false, "check c rising: 1/2 good probes", false, map[string]bool{"c": false}},
			{1 * sec, true, "", false, map[string]bool{"c": true}},
			{1500 * time.Millisecond, false, "link down", true, map[string]bool{"c": true}},
			{2 * sec, false, "link down", true, map[string]bool{"c": false}},
			{2500 * time.Millisecond, false, "check c failing: boom", false, map[string]bool{"c": false}},
			{4 * sec, true, "", false, map[string]bool{"c": true}},
		}
		if diff := cmp.Diff(want, h.rec.get()); diff != "" {
			t.Errorf("notifications (-want +got):\n%s", diff)
		}
	})
}

func TestObserveAndTransitionLogs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type obs struct {
			Check string
			OK    bool
			Took  time.Duration
		}
		var mu sync.Mutex
		var got []obs
		cfg := testConfig(1, 1, "c")
		cfg.Observe = func(check string, ok bool, took time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, obs{check, ok, took})
		}
		h := startHarness(t, cfg, map[string]string{"c": "+-T+"}, nil)
		time.Sleep(3*sec + sec/2)
		synctest.Wait()
		h.stop(t)
		want := []obs{{"c", true, 0}, {"c", false, 0}, {"c", false, DefaultTimeout}, {"c", true, 0}}
		mu.Lock()
		defer mu.Unlock()
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("observations (-want +got):\n%s", diff)
		}
		logs := h.logs.String()
		for msg, n := range map[string]int{`msg="check up"`: 2, `msg="check down"`: 1} {
			if c := strings.Count(logs, msg); c != n {
				t.Errorf("%d log lines with %s, want %d:\n%s", c, msg, n, logs)
			}
		}
	})
}

func TestStartTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, DefaultConfig(), nil, nil)
		synctest.Wait()
		if err := h.p.Start(t.Context()); !errors.Is(err, ErrStarted) {
			t.Errorf("second Start = %v, want ErrStarted", err)
		}
		h.stop(t)
	})
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	cfg := testConfig(0, 2, "c")
	if _, err := New(cfg, nil, nil); err == nil {
		t.Fatal("New accepted rise 0")
	}
	cfg = testConfig(2, 2)
	cfg.Checks = []Check{{Name: "http-0", Kind: KindHTTP, Target: "https://192.0.2.1/", StatusMin: 200, StatusMax: 399, CAFile: "/nonexistent/ca.pem"}}
	_, err := New(cfg, nil, nil)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "health-ca-file" {
		t.Errorf("New with a missing CA file = %v, want a health-ca-file error", err)
	}
}
