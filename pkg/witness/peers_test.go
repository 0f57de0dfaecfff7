package witness

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPeers(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const window = 2 * time.Second
	p := peers{}
	p.heard("a", t0)
	p.heard("b", t0.Add(time.Second))
	p.heard("a", t0.Add(-time.Second)) // older: ignored
	for _, tc := range []struct {
		at   time.Duration
		want int
	}{{0, 2}, {1999 * time.Millisecond, 2}, {2 * time.Second, 1}, {3 * time.Second, 0}} {
		if diff := cmp.Diff(tc.want, p.live(t0.Add(tc.at), window)); diff != "" {
			t.Errorf("live(t0+%v) mismatch (-want +got):\n%s", tc.at, diff)
		}
	}
}

// The table never grows past maxPeers: the least recently heard goes.
func TestPeersBounded(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := peers{}
	for i := range maxPeers + 10 {
		p.heard(fmt.Sprintf("node-%d", i), t0.Add(time.Duration(i)*time.Millisecond))
	}
	if diff := cmp.Diff(maxPeers, len(p)); diff != "" {
		t.Errorf("size mismatch (-want +got):\n%s", diff)
	}
	if _, ok := p["node-0"]; ok {
		t.Error("the least recently heard peer was kept")
	}
	if _, ok := p[fmt.Sprintf("node-%d", maxPeers+9)]; !ok {
		t.Error("the latest peer was not recorded")
	}
}
