package e2e

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/vipkeeper/vipkeeper/e2e/lab"
)

// metricsAddr is the daemon's default listener; each node namespace has a
// loopback of its own, so every daemon listens on the same address.
const metricsAddr = "127.0.0.1:9479"

// scrape GETs path from node i's metrics listener, from inside its
// namespace, and returns the status code and body.
func scrape(t *testing.T, l *lab.Lab, i int, path string) (int, string) {
	t.Helper()
	c := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{DialContext: l.NodeNS(i).DialContext, DisableKeepAlives: true},
	}
	resp, err := c.Get("http://" + metricsAddr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, string(b)
}

// metric returns the value of one series (`name` or `name{labels}` exactly
// as exposed) from a scrape.
func metric(body, series string) (float64, bool) {
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// eventually polls cond every 100ms for at most limit.
func eventually(limit time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// TestObservability scrapes running daemons across a failover: the metric
// families change, /readyz follows the API's reachability, and Events
// appear on the Lease in the lab's API server.
func TestObservability(t *testing.T) {
	lab.SkipUnlessCapable(t)
	l := lab.Start(t, lab.Options{})
	vip := l.VIPs()[0]
	owner := l.WaitOwner(vip, 30*time.Second)
	if owner == "" {
		t.Fatal("no owner")
	}
	leader := l.NodeIndex(owner)
	lease := `{lease="kube-system/vipkeeper-cp"}`

	// The owner can bind the VIP before the last daemon has opened its
	// listener (the lab starts them one after another), so wait for all.
	for i := range l.Nodes() {
		if !eventually(10*time.Second, func() bool {
			code, _ := scrape(t, l, i, "/healthz")
			return code == http.StatusOK
		}) {
			t.Fatalf("node %d never served /healthz", i)
		}
	}

	// 1. Exactly one node leads, and it is the one holding the VIP.
	leaders := 0
	for i := range l.Nodes() {
		code, body := scrape(t, l, i, "/metrics")
		if code != http.StatusOK {
			t.Fatalf("node %d /metrics: %d %s", i, code, body)
		}
		v, ok := metric(body, "vipkeeper_leader"+lease)
		if !ok {
			t.Fatalf("node %d: no vipkeeper_leader%s in /metrics", i, lease)
		}
		bound, _ := metric(body, `vipkeeper_vip_bound{family="ipv4"}`)
		if v == 1 {
			leaders++
			if i != leader || bound != 1 {
				t.Errorf("node %d leads (vip bound %v) but the owner is node %d", i, bound, leader)
			}
			if sent, _ := metric(body, `vipkeeper_announcements_sent_total{protocol="arp",trigger="takeover"}`); sent == 0 {
				t.Errorf("leader sent no takeover ARP announcements")
			}
		} else if bound != 0 {
			t.Errorf("follower %d reports the VIP bound", i)
		}
		if code, _ := scrape(t, l, i, "/healthz"); code != http.StatusOK {
			t.Errorf("node %d /healthz: %d", i, code)
		}
	}
	if leaders != 1 {
		t.Fatalf("%d nodes report vipkeeper_leader 1", leaders)
	}

	// 2. Someone deletes the VIP on the leader: restored and counted.
	l.DelVIP(leader)
	if !eventually(10*time.Second, func() bool {
		_, body := scrape(t, l, leader, "/metrics")
		v, _ := metric(body, "vipkeeper_vip_restored_total")
		return v >= 1
	}) {
		t.Error("vipkeeper_vip_restored_total did not rise after the VIP was deleted")
	}

	// 3. A follower cut off from the API server is not ready, but alive.
	follower := (leader + 1) % l.Nodes()
	l.CutAPI(follower)
	if !eventually(10*time.Second, func() bool {
		code, _ := scrape(t, l, follower, "/readyz")
		return code == http.StatusInternalServerError || code == http.StatusServiceUnavailable
	}) {
		t.Error("/readyz stayed ready with the API server cut off")
	}
	_, body := scrape(t, l, follower, "/metrics")
	if v, _ := metric(body, "vipkeeper_api_reachable"); v != 0 {
		t.Errorf("vipkeeper_api_reachable = %v with the API cut off", v)
	}
	if code, _ := scrape(t, l, follower, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d while only the API is cut off", code)
	}
	l.HealAPI(follower)
	if !eventually(10*time.Second, func() bool {
		code, body := scrape(t, l, follower, "/readyz")
		_, m := scrape(t, l, follower, "/metrics")
		rec, _ := metric(m, "vipkeeper_api_recoveries_total")
		return code == http.StatusOK && rec >= 1 && body != ""
	}) {
		t.Error("/readyz or vipkeeper_api_recoveries_total did not recover after healing")
	}

	// 4. Graceful failover: the families move to the new leader.
	l.KillNode(leader, syscall.SIGTERM)
	if rc := l.WaitNodeExit(leader, 10*time.Second); rc != 0 {
		t.Errorf("SIGTERMed leader exited %d", rc)
	}
	newOwner := l.WaitOwner(vip, 15*time.Second)
	if newOwner == "" || newOwner == owner {
		t.Fatalf("no new owner after SIGTERM (owner %q)", newOwner)
	}
	n := l.NodeIndex(newOwner)
	if !eventually(5*time.Second, func() bool {
		_, body := scrape(t, l, n, "/metrics")
		lead, _ := metric(body, "vipkeeper_leader"+lease)
		binds, _ := metric(body, "vipkeeper_vip_bind_total")
		trans, _ := metric(body, "vipkeeper_leader_transitions_total")
		since, _ := metric(body, "vipkeeper_leader_since_timestamp_seconds")
		return lead == 1 && binds >= 1 && trans >= 1 && since > 0
	}) {
		_, body := scrape(t, l, n, "/metrics")
		t.Errorf("new leader %s metrics did not show the takeover:\n%s", newOwner, grepLines(body, "vipkeeper_leader", "vipkeeper_vip_bind"))
	}

	// 5. The Lease carries the story as Events.
	want := []string{"LeaseAcquired", "VIPBound", "VIPRestored", "SteppedDown", "LeaseLost"}
	var got map[string]int
	if !eventually(10*time.Second, func() bool {
		got = leaseEvents(t, l)
		for _, r := range want {
			if got[r] == 0 {
				return false
			}
		}
		return true
	}) {
		t.Errorf("events on the Lease = %v, want each of %v", got, want)
	}
}

func leaseEvents(t *testing.T, l *lab.Lab) map[string]int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list, err := l.Admin().CoreV1().Events("kube-system").List(ctx, metav1.ListOptions{
		FieldSelector: fields.Set{"involvedObject.kind": "Lease", "involvedObject.name": "vipkeeper-cp"}.String(),
	})
	if err != nil {
		t.Logf("listing events: %v", err)
		return nil
	}
	got := map[string]int{}
	for _, e := range list.Items {
		got[e.Reason] += int(max(e.Count, 1))
	}
	return got
}

func grepLines(body string, prefixes ...string) string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(line, p) {
				out = append(out, line)
			}
		}
	}
	return strings.Join(out, "\n")
}
