package announce

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/arp"
)

// sentRound is the addresses announced at one instant, in the order sent.
type sentRound struct {
	At    time.Duration
	Addrs []netip.Addr
}

// sentRounds groups packets by send time. An ARP announcement counts once
// (its request form), an NA once.
func sentRounds(ps []sentPacket) []sentRound {
	var out []sentRound
	for _, p := range ps {
		var ip netip.Addr
		switch {
		case p.ARP != nil && p.ARP.Operation == arp.OperationRequest:
			ip = p.ARP.SenderIP
		case p.NA != nil:
			ip = p.NA.TargetAddress
		default:
			continue
		}
		if len(out) == 0 || out[len(out)-1].At != p.At {
			out = append(out, sentRound{At: p.At})
		}
		r := &out[len(out)-1]
		r.Addrs = append(r.Addrs, ip)
	}
	return out
}

func addrs(ips ...netip.Addr) []netip.Addr { return ips }

func at(ms int, ips ...netip.Addr) sentRound {
	return sentRound{At: time.Duration(ms) * time.Millisecond, Addrs: ips}
}

// announceStep is one call of Announce at a point in fake time.
type announceStep struct {
	at           time.Duration // since the test started; increasing
	addrs, fresh []netip.Addr
	wantNow      []netip.Addr // sent before Announce returned
}

func TestAnnounce(t *testing.T) {
	A, B, C := vip4, vip4b, vip6 // C is IPv6
	msec := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		name      string
		cfg       Config // Interface filled in
		steps     []announceStep
		until     time.Duration
		want      []sentRound
		wantStats map[StatsKey]Counts // checked if not nil
	}{
		{
			name: "fresh subset bursts only those addresses",
			cfg:  Config{BurstCount: 3, RefreshInterval: 10 * time.Second},
			steps: []announceStep{
				{at: 0, addrs: addrs(A, B), fresh: addrs(A, B), wantNow: addrs(A, B)},
				{at: msec(1000), addrs: addrs(A, B, C), fresh: addrs(C), wantNow: addrs(C)},
			},
			until: msec(21000),
			want: []sentRound{
				at(0, A, B), at(200, A, B), at(400, A, B),
				at(1000, C), at(1200, C), at(1400, C),
				// The refresh period counts from the last round that
				// covered the whole set, and refreshes cover all of it.
				at(10400, A, B, C), at(20400, A, B, C),
			},
			wantStats: map[StatsKey]Counts{
				{ProtocolARP, TriggerTakeover}: {Packets: 12},
				{ProtocolNDP, TriggerTakeover}: {Packets: 3},
				{ProtocolARP, TriggerRefresh}:  {Packets: 8},
				{ProtocolNDP, TriggerRefresh}:  {Packets: 2},
			},
		},
		{
			name: "removed address is not sent again",
			cfg:  Config{BurstCount: 3, RefreshInterval: 10 * time.Second},
			steps: []announceStep{
				{at: 0, addrs: addrs(A, B, C), fresh: addrs(A, B, C), wantNow: addrs(A, B, C)},
				{at: msec(300), addrs: addrs(A, C)},
				{at: msec(15000), addrs: addrs(C)},
			},
			until: msec(30000),
			want: []sentRound{
				at(0, A, B, C), at(200, A, B, C), at(400, A, C),
				at(10400, A, C), at(20400, C),
			},
		},
		{
			name: "removed address stops bursting, the rest keep their schedule",
			cfg:  Config{BurstCount: 4},
			steps: []announceStep{
				{at: 0, addrs: addrs(A), fresh: addrs(A), wantNow: addrs(A)},
				{at: msec(100), addrs: addrs(A, B), fresh: addrs(B), wantNow: addrs(B)},
				{at: msec(350), addrs: addrs(B)},
			},
			until: msec(5000),
			want: []sentRound{
				at(0, A), at(100, B), at(200, A), at(300, B),
				at(500, B), at(700, B),
			},
		},
		{
			name: "refresh coinciding with a burst sends each address once",
			cfg:  Config{BurstCount: 3, RefreshInterval: time.Second},
			steps: []announceStep{
				{at: 0, addrs: addrs(A), fresh: addrs(A), wantNow: addrs(A)},
				{at: msec(1300), addrs: addrs(A, C), fresh: addrs(C), wantNow: addrs(C)},
			},
			until: msec(2500),
			want: []sentRound{
				at(0, A), at(200, A), at(400, A),
				at(1300, C),
				at(1400, A, C), // refresh; C's burst is not due before 1500
				at(1500, C), at(1700, C),
				at(2400, A, C),
			},
			wantStats: map[StatsKey]Counts{
				{ProtocolARP, TriggerTakeover}: {Packets: 6},
				{ProtocolNDP, TriggerTakeover}: {Packets: 3},
				{ProtocolARP, TriggerRefresh}:  {Packets: 4},
				{ProtocolNDP, TriggerRefresh}:  {Packets: 2},
			},
		},
		{
			name: "fresh address already bursting restarts its burst",
			cfg:  Config{BurstCount: 3, RefreshInterval: 10 * time.Second},
			steps: []announceStep{
				{at: 0, addrs: addrs(A, B), fresh: addrs(A, B), wantNow: addrs(A, B)},
				{at: msec(300), addrs: addrs(A, B), fresh: addrs(B), wantNow: addrs(B)},
			},
			until: msec(11000),
			want: []sentRound{
				at(0, A, B), at(200, A, B),
				at(300, B), at(400, A), at(500, B), at(700, B),
				// Only the rounds at 0 and 200 covered the whole set.
				at(10200, A, B),
			},
		},
		{
			name: "fresh addresses outside the set are ignored",
			cfg:  Config{BurstCount: 2},
			steps: []announceStep{
				{at: 0, addrs: addrs(A), fresh: addrs(C, A, B), wantNow: addrs(A)},
			},
			until: msec(5000),
			want:  []sentRound{at(0, A), at(200, A)},
		},
		{
			name: "added address that is not fresh waits for the refresh",
			cfg:  Config{BurstCount: 2, RefreshInterval: 10 * time.Second},
			steps: []announceStep{
				{at: 0, addrs: addrs(A), fresh: addrs(A), wantNow: addrs(A)},
				{at: msec(1000), addrs: addrs(A, B)},
			},
			until: msec(11000),
			want:  []sentRound{at(0, A), at(200, A), at(10200, A, B)},
		},
		{
			name: "nothing fresh on an empty set starts the refresh period",
			cfg:  Config{RefreshInterval: 10 * time.Second},
			steps: []announceStep{
				{at: 0, addrs: addrs(A, B)},
			},
			until: msec(25000),
			want:  []sentRound{at(10000, A, B), at(20000, A, B)},
			wantStats: map[StatsKey]Counts{
				{ProtocolARP, TriggerRefresh}: {Packets: 8},
			},
		},
		{
			name: "burst count 1 sends only the first round",
			cfg:  Config{BurstCount: 1},
			steps: []announceStep{
				{at: 0, addrs: addrs(A), fresh: addrs(A), wantNow: addrs(A)},
				{at: msec(50), addrs: addrs(A, B), fresh: addrs(B), wantNow: addrs(B)},
			},
			until: time.Hour,
			want:  []sentRound{at(0, A), at(50, B)},
		},
		{
			name: "mapped and zoned fresh addresses match the set",
			cfg:  Config{BurstCount: 2},
			steps: []announceStep{{
				at:      0,
				addrs:   addrs(netip.AddrFrom16(A.As16()), C),
				fresh:   addrs(A, C.WithZone("vk0")),
				wantNow: addrs(A, C),
			}},
			until: time.Second,
			want:  []sentRound{at(0, A, C), at(200, A, C)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeNet()
				an := newTestAnnouncer(t, tt.cfg, f)
				run(t, an)

				start := time.Now()
				for _, s := range tt.steps {
					time.Sleep(s.at - time.Since(start))
					synctest.Wait() // let a round due now finish first
					before := len(f.packets())
					an.Announce(s.addrs, s.fresh)
					var gotNow []netip.Addr
					for _, r := range sentRounds(f.packets()[before:]) {
						gotNow = append(gotNow, r.Addrs...)
					}
					if diff := cmp.Diff(s.wantNow, gotNow, cmpAddr); diff != "" {
						t.Errorf("at %v: sent before Announce returned (-want +got):\n%s", s.at, diff)
					}
				}
				time.Sleep(tt.until - time.Since(start))
				synctest.Wait()

				if diff := cmp.Diff(tt.want, sentRounds(f.packets()), cmpAddr); diff != "" {
					t.Errorf("rounds (-want +got):\n%s", diff)
				}
				if tt.wantStats != nil {
					if diff := cmp.Diff(tt.wantStats, an.Stats()); diff != "" {
						t.Errorf("stats (-want +got):\n%s", diff)
					}
				}
			})
		})
	}
}

// TestEmptyAnnounceIsWithdraw checks that every way of announcing nothing
// stops all rounds and closes the sockets, as Withdraw does.
func TestEmptyAnnounceIsWithdraw(t *testing.T) {
	tests := []struct {
		name     string
		withdraw func(a *Announcer)
	}{
		{"Withdraw", (*Announcer).Withdraw},
		{"Announce(nil, nil)", func(a *Announcer) { a.Announce(nil, nil) }},
		{"Announce(nil, fresh)", func(a *Announcer) { a.Announce(nil, addrs(vip4)) }},
		{"Announce(invalid only)", func(a *Announcer) { a.Announce(addrs(netip.Addr{}), nil) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeNet()
				a := newTestAnnouncer(t, Config{RefreshInterval: 10 * time.Second}, f)
				run(t, a)

				a.Announce(addrs(vip4, vip6), addrs(vip4, vip6))
				time.Sleep(300 * time.Millisecond)
				tt.withdraw(a)
				if _, _, open := f.snapshot(); open != 0 {
					t.Errorf("%d sockets open after withdrawing, want 0", open)
				}
				time.Sleep(time.Hour)
				synctest.Wait()

				want := []sentRound{at(0, vip4, vip6), at(200, vip4, vip6)}
				if diff := cmp.Diff(want, sentRounds(f.packets()), cmpAddr); diff != "" {
					t.Errorf("rounds (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// TestAnnounceThousandAddresses checks a set the size of a busy Service
// cluster: rounds are sent at one instant on one socket per protocol, and
// bursts and refreshes cover the right addresses.
func TestAnnounceThousandAddresses(t *testing.T) {
	const n = 1000
	set := make([]netip.Addr, 0, n)
	// Documentation ranges only: 192.0.2.0/24 and 198.51.100.0/24 hold
	// the 500 IPv4 addresses, 2001:db8::/32 the IPv6 ones.
	for i := range n / 2 {
		v4 := netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
		if i >= 256 {
			v4 = netip.AddrFrom4([4]byte{198, 51, 100, byte(i - 256)})
		}
		set = append(set, v4, netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)}))
	}
	extra := netip.MustParseAddr("203.0.113.1")

	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		a := newTestAnnouncer(t, Config{BurstCount: 3, RefreshInterval: 10 * time.Second}, f)
		run(t, a)

		a.Announce(set, set)
		// Every address of the first round is out before Announce
		// returns, and no fake time passed while sending it.
		if diff := cmp.Diff([]sentRound{{At: 0, Addrs: set}}, sentRounds(f.packets()), cmpAddr); diff != "" {
			t.Fatalf("first round (-want +got):\n%s", diff)
		}

		time.Sleep(time.Second)
		synctest.Wait()
		withExtra := append(append([]netip.Addr(nil), set...), extra)
		a.Announce(withExtra, addrs(extra))

		time.Sleep(2 * time.Second)
		synctest.Wait()
		half := set[:n/2] // the rest of the set goes away
		a.Announce(half, nil)

		time.Sleep(10 * time.Second)
		synctest.Wait()

		want := []sentRound{
			at(0, set...), at(200, set...), at(400, set...),
			at(1000, extra), at(1200, extra), at(1400, extra),
			at(10400, half...),
		}
		if diff := cmp.Diff(want, sentRounds(f.packets()), cmpAddr); diff != "" {
			t.Errorf("rounds (-want +got):\n%s", diff)
		}
		wantStats := map[StatsKey]Counts{
			{ProtocolARP, TriggerTakeover}: {Packets: 3 * 2 * (n/2 + 1)},
			{ProtocolNDP, TriggerTakeover}: {Packets: 3 * n / 2},
			{ProtocolARP, TriggerRefresh}:  {Packets: 2 * n / 4},
			{ProtocolNDP, TriggerRefresh}:  {Packets: n / 4},
		}
		if diff := cmp.Diff(wantStats, a.Stats()); diff != "" {
			t.Errorf("stats (-want +got):\n%s", diff)
		}
		if dials, listens, open := f.snapshot(); dials != 1 || len(listens) != 1 || open != 2 {
			t.Errorf("%d arp dials, %d ndp listens, %d open; want 1, 1, 2", dials, len(listens), open)
		}
	})
}

// TestSlowRoundStopsAtDeadline checks that a round whose writes block (a full
// send buffer) gives up at roundTimeout and counts the addresses it had no
// time for, instead of reopening a socket for each of them.
func TestSlowRoundStopsAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		f.writeDelay = 100 * time.Millisecond // 200 ms per IPv4 address
		a := newTestAnnouncer(t, Config{BurstCount: 1}, f)

		var set []netip.Addr
		for i := range 10 {
			set = append(set, netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}))
		}
		a.Announce(set, set)

		// Addresses start at 0, 200 and 400 ms; the fourth would start at
		// 600 ms, after the 500 ms deadline.
		want := map[StatsKey]Counts{{ProtocolARP, TriggerTakeover}: {Packets: 6, Errors: 7}}
		if diff := cmp.Diff(want, a.Stats()); diff != "" {
			t.Errorf("stats (-want +got):\n%s", diff)
		}
		if dials, _, _ := f.snapshot(); dials != 1 {
			t.Errorf("%d arp dials, want 1", dials)
		}
	})
}
