package announce

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
)

var (
	cmpAddr  = cmpopts.EquateComparable(netip.Addr{})
	ignoreAt = cmpopts.IgnoreFields(sentPacket{}, "At")
)

func TestNewDefaults(t *testing.T) {
	a := New(Config{Interface: "vk0", RefreshInterval: -time.Second}, nil)
	want := Config{Interface: "vk0", BurstCount: 5, BurstInterval: 200 * time.Millisecond}
	if diff := cmp.Diff(want, a.cfg); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

func TestTakeoverIPv4Packets(t *testing.T) {
	f := newFakeNet()
	a := newTestAnnouncer(t, Config{}, f)

	// No Start: the first round must be sent by Takeover itself.
	takeover(a, vip4)

	broadcast := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	want := []sentPacket{
		{
			ARP: &arp.Packet{
				HardwareType: 1, ProtocolType: uint16(ethernet.EtherTypeIPv4),
				HardwareAddrLength: 6, IPLength: 4,
				Operation:          arp.OperationRequest,
				SenderHardwareAddr: testMAC, SenderIP: vip4,
				TargetHardwareAddr: net.HardwareAddr{0, 0, 0, 0, 0, 0}, TargetIP: vip4,
			},
			ARPTo: broadcast,
		},
		{
			ARP: &arp.Packet{
				HardwareType: 1, ProtocolType: uint16(ethernet.EtherTypeIPv4),
				HardwareAddrLength: 6, IPLength: 4,
				Operation:          arp.OperationReply,
				SenderHardwareAddr: testMAC, SenderIP: vip4,
				TargetHardwareAddr: broadcast, TargetIP: vip4,
			},
			ARPTo: broadcast,
		},
	}
	got := f.packets()
	if diff := cmp.Diff(want, got, cmpAddr, ignoreAt); diff != "" {
		t.Fatalf("packets (-want +got):\n%s", diff)
	}

	// The wire form must survive a round trip through the ARP parser.
	for _, p := range got {
		b, err := p.ARP.MarshalBinary()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		var back arp.Packet
		if err := back.UnmarshalBinary(b); err != nil {
			t.Fatalf("unmarshal: %v", err)
		}
		if diff := cmp.Diff(p.ARP, &back, cmpAddr); diff != "" {
			t.Errorf("round trip (-sent +parsed):\n%s", diff)
		}
	}
}

func TestTakeoverIPv6Packet(t *testing.T) {
	f := newFakeNet()
	a := newTestAnnouncer(t, Config{}, f)

	takeover(a, vip6)

	want := []sentPacket{{
		NA: &ndp.NeighborAdvertisement{
			Router: false, Solicited: false, Override: true,
			TargetAddress: vip6,
			Options: []ndp.Option{
				&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: testMAC},
			},
		},
		NDPTo: netip.MustParseAddr("ff02::1"),
		CM:    nil, // ndp.Conn's default: hop limit 255, our source
	}}
	got := f.packets()
	if diff := cmp.Diff(want, got, cmpAddr, ignoreAt); diff != "" {
		t.Fatalf("packets (-want +got):\n%s", diff)
	}
	b, err := ndp.MarshalMessage(got[0].NA)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	back, err := ndp.ParseMessage(b)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if diff := cmp.Diff(ndp.Message(got[0].NA), back, cmpAddr); diff != "" {
		t.Errorf("round trip (-sent +parsed):\n%s", diff)
	}
	if _, listens, _ := f.snapshot(); !cmp.Equal(listens, []ndp.Addr{ndp.LinkLocal}) {
		t.Errorf("ndp listens = %v, want only link-local", listens)
	}
}

func TestNDPFallsBackToVIP(t *testing.T) {
	f := newFakeNet()
	f.linkLocalOK = false
	a := newTestAnnouncer(t, Config{}, f)

	takeover(a, vip6)

	_, listens, _ := f.snapshot()
	if diff := cmp.Diff([]ndp.Addr{ndp.LinkLocal, ndp.Addr("2001:db8::100")}, listens); diff != "" {
		t.Errorf("ndp listens (-want +got):\n%s", diff)
	}
	if n := len(f.packets()); n != 1 {
		t.Errorf("sent %d packets, want 1", n)
	}
}

// roundTimes groups packets by send time and returns the distinct times.
func roundTimes(ps []sentPacket) []time.Duration {
	var out []time.Duration
	for _, p := range ps {
		if len(out) == 0 || out[len(out)-1] != p.At {
			out = append(out, p.At)
		}
	}
	return out
}

func ms(ds ...int) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = time.Duration(d) * time.Millisecond
	}
	return out
}

// run starts a's loop and stops it at the end of the synctest bubble.
func run(t *testing.T, a *Announcer) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- a.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start: %v", err)
		}
	})
}

func TestBurstThenRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		a := newTestAnnouncer(t, Config{RefreshInterval: 10 * time.Second}, f)
		run(t, a)

		takeover(a, vip4)
		if got := roundTimes(f.packets()); !cmp.Equal(got, ms(0)) {
			t.Fatalf("after Takeover returned: rounds at %v, want [0s]", got)
		}

		time.Sleep(25 * time.Second)
		synctest.Wait()

		want := ms(0, 200, 400, 600, 800, 10_800, 20_800)
		if diff := cmp.Diff(want, roundTimes(f.packets())); diff != "" {
			t.Errorf("round times (-want +got):\n%s", diff)
		}
		wantStats := map[StatsKey]Counts{
			{ProtocolARP, TriggerTakeover}: {Packets: 10},
			{ProtocolARP, TriggerRefresh}:  {Packets: 4},
		}
		if diff := cmp.Diff(wantStats, a.Stats()); diff != "" {
			t.Errorf("stats (-want +got):\n%s", diff)
		}
	})
}

func TestBurstWithoutRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		a := newTestAnnouncer(t, Config{BurstCount: 3, BurstInterval: time.Second}, f)
		run(t, a)

		takeover(a, vip6)
		time.Sleep(time.Hour)
		synctest.Wait()

		if diff := cmp.Diff(ms(0, 1000, 2000), roundTimes(f.packets())); diff != "" {
			t.Errorf("round times (-want +got):\n%s", diff)
		}
	})
}

func TestWithdrawStopsEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		a := newTestAnnouncer(t, Config{RefreshInterval: 10 * time.Second}, f)
		run(t, a)

		takeover(a, vip4, vip6)
		time.Sleep(300 * time.Millisecond)
		a.Withdraw()
		if _, _, open := f.snapshot(); open != 0 {
			t.Errorf("%d sockets open after Withdraw, want 0", open)
		}
		time.Sleep(time.Hour)
		synctest.Wait()

		if diff := cmp.Diff(ms(0, 200), roundTimes(f.packets())); diff != "" {
			t.Errorf("round times (-want +got):\n%s", diff)
		}
	})
}

func TestTakeoverReplacesSet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		a := newTestAnnouncer(t, Config{BurstCount: 3}, f)
		run(t, a)

		takeover(a, vip4)
		time.Sleep(300 * time.Millisecond)
		takeover(a, vip4b)
		time.Sleep(time.Hour)
		synctest.Wait()

		type round struct {
			At  time.Duration
			VIP netip.Addr
		}
		var got []round
		for _, p := range f.packets() {
			if p.ARP.Operation == arp.OperationRequest {
				got = append(got, round{p.At, p.ARP.SenderIP})
			}
		}
		// The burst restarts for the new set; the old address is not
		// announced again.
		want := []round{{0, vip4}, {ms(200)[0], vip4}, {ms(300)[0], vip4b}, {ms(500)[0], vip4b}, {ms(700)[0], vip4b}}
		if diff := cmp.Diff(want, got, cmpAddr); diff != "" {
			t.Errorf("rounds (-want +got):\n%s", diff)
		}
	})
}

func TestWriteErrorCountedAndReopened(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		f.failWrites = 1
		a := newTestAnnouncer(t, Config{BurstCount: 2}, f)
		run(t, a)

		takeover(a, vip4)
		dials, _, open := f.snapshot()
		if dials != 1 || open != 0 {
			t.Errorf("after failed round: %d dials, %d open; want 1 dial, 0 open", dials, open)
		}

		time.Sleep(time.Second)
		synctest.Wait()

		dials, _, open = f.snapshot()
		if dials != 2 || open != 1 {
			t.Errorf("after next round: %d dials, %d open; want 2 dials, 1 open", dials, open)
		}
		if diff := cmp.Diff(ms(200, 200), packetTimes(f.packets())); diff != "" {
			t.Errorf("packet times (-want +got):\n%s", diff)
		}
		want := map[StatsKey]Counts{{ProtocolARP, TriggerTakeover}: {Packets: 2, Errors: 1}}
		if diff := cmp.Diff(want, a.Stats()); diff != "" {
			t.Errorf("stats (-want +got):\n%s", diff)
		}
	})
}

func packetTimes(ps []sentPacket) []time.Duration {
	out := make([]time.Duration, len(ps))
	for i, p := range ps {
		out[i] = p.At
	}
	return out
}

func TestDialAndLookupErrorsAreCounted(t *testing.T) {
	f := newFakeNet()
	f.dialErr = net.ErrClosed
	a := newTestAnnouncer(t, Config{}, f)
	takeover(a, vip4, vip6)

	f.set(func(f *fakeNet) { f.dialErr = nil })
	f.link.Fail(net.UnknownNetworkError("gone"))
	takeover(a, vip4, vip6)

	want := map[StatsKey]Counts{
		{ProtocolARP, TriggerTakeover}: {Errors: 2},
		{ProtocolNDP, TriggerTakeover}: {Errors: 2},
	}
	if diff := cmp.Diff(want, a.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if n := len(f.packets()); n != 0 {
		t.Errorf("sent %d packets, want 0", n)
	}
}

func TestInterfaceChangeReopens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		a := newTestAnnouncer(t, Config{BurstCount: 2}, f)
		run(t, a)

		takeover(a, vip4)
		f.link.Update(func(ifi *net.Interface) { ifi.Index, ifi.HardwareAddr = 8, testMAC2 })
		time.Sleep(time.Second)
		synctest.Wait()

		dials, _, open := f.snapshot()
		if dials != 2 || open != 1 {
			t.Errorf("%d dials, %d open; want 2 dials, 1 open", dials, open)
		}
		ps := f.packets()
		if got := ps[len(ps)-1].ARP.SenderHardwareAddr; !cmp.Equal(got, testMAC2) {
			t.Errorf("last packet from %v, want new MAC %v", got, testMAC2)
		}
	})
}

func TestMixedSet(t *testing.T) {
	f := newFakeNet()
	a := newTestAnnouncer(t, Config{}, f)

	mapped := netip.AddrFrom16(vip4b.As16()) // ::ffff:198.51.100.7
	takeover(a, vip4, vip6, vip4, mapped, netip.Addr{}, netip.IPv6Unspecified())

	var got []string
	for _, p := range f.packets() {
		switch {
		case p.ARP != nil:
			got = append(got, "arp "+p.ARP.Operation.String()+" "+p.ARP.SenderIP.String())
		case p.NA != nil:
			got = append(got, "na "+p.NA.TargetAddress.String())
		}
	}
	want := []string{
		"arp OperationRequest 192.0.2.100", "arp OperationReply 192.0.2.100",
		"na 2001:db8::100",
		"arp OperationRequest 198.51.100.7", "arp OperationReply 198.51.100.7",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("packets (-want +got):\n%s", diff)
	}
	wantStats := map[StatsKey]Counts{
		{ProtocolARP, TriggerTakeover}: {Packets: 4},
		{ProtocolNDP, TriggerTakeover}: {Packets: 1},
	}
	if diff := cmp.Diff(wantStats, a.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

func TestStartClosesSocketsAndStopsSending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		a := newTestAnnouncer(t, Config{RefreshInterval: time.Second}, f)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- a.Start(ctx) }()

		takeover(a, vip4, vip6)
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Start: %v", err)
		}
		if _, _, open := f.snapshot(); open != 0 {
			t.Errorf("%d sockets open after Start returned, want 0", open)
		}
		n := len(f.packets())
		takeover(a, vip4)
		if got := len(f.packets()); got != n {
			t.Errorf("sent %d packets after Start returned, want 0", got-n)
		}
	})
}

func TestNDPFallbackIsReconsideredOnTakeover(t *testing.T) {
	f := newFakeNet()
	f.linkLocalOK = false
	a := newTestAnnouncer(t, Config{}, f)

	takeover(a, vip6)
	f.set(func(f *fakeNet) { f.linkLocalOK = true })
	takeover(a, vip6)

	_, listens, open := f.snapshot()
	want := []ndp.Addr{ndp.LinkLocal, ndp.Addr("2001:db8::100"), ndp.LinkLocal}
	if diff := cmp.Diff(want, listens); diff != "" {
		t.Errorf("ndp listens (-want +got):\n%s", diff)
	}
	if open != 1 {
		t.Errorf("%d sockets open, want 1", open)
	}
}
