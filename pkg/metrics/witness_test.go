package metrics

import (
	"fmt"
	"testing"
	"time"
)

func TestWitness(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const help = `
# HELP vipkeeper_ride_witnessed 1 while a peer was heard on the VIP's link within the witness window, so that a holder riding through an API outage may keep its addresses past its deadline; 0 when it would be gone by its deadline.
# TYPE vipkeeper_ride_witnessed gauge
vipkeeper_ride_witnessed %s
# HELP vipkeeper_witness_peers Peers of this node's group heard on the VIP's link (beacons) within the witness window.
# TYPE vipkeeper_witness_peers gauge
vipkeeper_witness_peers %s
`
	for _, tt := range []struct {
		name  string
		heard time.Time
		peers int
		want  [2]string
	}{
		{name: "never heard", want: [2]string{"0", "0"}},
		{name: "heard within the window", heard: now.Add(-1999 * time.Millisecond), peers: 2, want: [2]string{"1", "2"}},
		{name: "stale at the window's end", heard: now.Add(-2 * time.Second), want: [2]string{"0", "0"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, reg := newTest(t)
			if err := m.AddWitness(Witness{
				Peers: func() int { return tt.peers }, Heard: func() time.Time { return tt.heard },
				Window: 2 * time.Second, Now: func() time.Time { return now },
			}); err != nil {
				t.Fatal(err)
			}
			compare(t, reg, fmt.Sprintf(help, tt.want[0], tt.want[1]), "vipkeeper_ride_witnessed", "vipkeeper_witness_peers")
		})
	}
}
