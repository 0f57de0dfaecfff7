package links

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipkeeper/vipkeeper/pkg/guard"
	"github.com/vipkeeper/vipkeeper/pkg/vip"
)

// fakePlane records what one interface's plane was told.
type fakePlane struct {
	mu       sync.Mutex
	sets     [][]netip.Addr
	announce [][2][]netip.Addr
	watched  []netip.Addr
	answers  []guard.Claim // what Probe answers
	started  chan struct{}
}

func (f *fakePlane) Set(_ context.Context, want []vip.Want) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var addrs []netip.Addr
	for _, w := range want {
		addrs = append(addrs, w.Addr)
	}
	f.sets = append(f.sets, addrs)
	return addrs, nil
}

func (f *fakePlane) Announce(addrs, fresh []netip.Addr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.announce = append(f.announce, [2][]netip.Addr{addrs, fresh})
}

func (f *fakePlane) Watch(addrs []netip.Addr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.watched = addrs
}

func (f *fakePlane) Probe(_ context.Context, addrs []netip.Addr, _ time.Duration) ([]guard.Claim, error) {
	var out []guard.Claim
	for _, c := range f.answers {
		for _, a := range addrs {
			if c.Addr == a {
				out = append(out, c)
			}
		}
	}
	return out, nil
}

func (f *fakePlane) plane(start bool) Plane {
	p := Plane{Binder: f, Announcer: f, Guard: f}
	if start {
		p.Start = func(ctx context.Context) error {
			close(f.started)
			<-ctx.Done()
			return nil
		}
	}
	return p
}

var (
	a1 = netip.MustParseAddr("192.0.2.129")
	a2 = netip.MustParseAddr("203.0.113.225")
	a3 = netip.MustParseAddr("2001:db8:1::1:0")
)

// newLinks is Links with a default plane on eth0 and fake planes built on
// demand; built counts the builds per interface.
func newLinks(report ...func(time.Time)) (*Links, *fakePlane, map[string]*fakePlane, map[string]int) {
	def := &fakePlane{}
	others := map[string]*fakePlane{}
	built := map[string]int{}
	l := New(Config{Default: "eth0", Plane: def.plane(false), Report: report, Build: func(iface string, _ func(time.Time)) Plane {
		built[iface]++
		f := &fakePlane{started: make(chan struct{})}
		others[iface] = f
		return f.plane(true)
	}}, slog.New(slog.DiscardHandler))
	return l, def, others, built
}

func wants(addrs ...netip.Addr) []vip.Want {
	var out []vip.Want
	for _, a := range addrs {
		out = append(out, vip.Want{Addr: a})
	}
	return out
}

// TestSetSplitsByRoute: each binder gets the addresses routed to its
// interface; an address whose route moves leaves the old plane by
// omission and is added by the new one; a plane that never held anything
// is not read.
func TestSetSplitsByRoute(t *testing.T) {
	l, def, others, built := newLinks()
	ctx := context.Background()
	l.Route(map[netip.Addr]string{a2: "eth1", a3: "eth1", a1: "eth0"})
	added, err := l.Set(ctx, wants(a1, a2, a3))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]netip.Addr{a1, a2, a3}, added, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
		t.Errorf("added (-want +got):\n%s", diff)
	}
	eth1 := others["eth1"]
	// a3 moves to the default interface, a2 stays.
	l.Route(map[netip.Addr]string{a2: "eth1"})
	if _, err := l.Set(ctx, wants(a1, a2, a3)); err != nil {
		t.Fatal(err)
	}
	// Everything leaves eth1: it is set empty once, then not read again.
	l.Route(nil)
	for range 2 {
		if _, err := l.Set(ctx, wants(a1)); err != nil {
			t.Fatal(err)
		}
	}
	eq := cmp.Comparer(func(x, y netip.Addr) bool { return x == y })
	if diff := cmp.Diff([][]netip.Addr{{a1}, {a1, a3}, {a1}, {a1}}, def.sets, eq); diff != "" {
		t.Errorf("eth0's binder (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]netip.Addr{{a2, a3}, {a2}, nil}, eth1.sets, eq); diff != "" {
		t.Errorf("eth1's binder (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"eth1": 1}, built); diff != "" {
		t.Errorf("planes built (-want +got):\n%s", diff)
	}
}

// TestAnnounceWatchProbeSplit: the announcer, the guard and the probe of
// each interface see only its addresses, a plane with none is told so
// (it stops sending), and the probe's answers come back from every
// interface.
func TestAnnounceWatchProbeSplit(t *testing.T) {
	l, def, others, _ := newLinks()
	l.Use([]string{"eth1", "eth2"})
	l.Route(map[netip.Addr]string{a2: "eth1"})
	l.Announce([]netip.Addr{a1, a2}, []netip.Addr{a2})
	l.Watch([]netip.Addr{a1, a2})
	eq := cmp.Comparer(func(x, y netip.Addr) bool { return x == y })
	if diff := cmp.Diff([][2][]netip.Addr{{{a1}, nil}}, def.announce, eq); diff != "" {
		t.Errorf("eth0's announcer (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][2][]netip.Addr{{{a2}, {a2}}}, others["eth1"].announce, eq); diff != "" {
		t.Errorf("eth1's announcer (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][2][]netip.Addr{{nil, nil}}, others["eth2"].announce, eq); diff != "" {
		t.Errorf("eth2's announcer (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]netip.Addr{a2}, others["eth1"].watched, eq); diff != "" {
		t.Errorf("eth1's guard (-want +got):\n%s", diff)
	}
	def.answers = []guard.Claim{{Addr: a1, Kind: guard.KindReply}}
	others["eth1"].answers = []guard.Claim{{Addr: a2, Kind: guard.KindReply}, {Addr: a1, Kind: guard.KindReply}}
	got, err := l.Probe(context.Background(), []netip.Addr{a1, a2}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// eth1's guard answers for a1 too, but a1 is not probed there.
	if len(got) != 2 {
		t.Errorf("probe answers %v; want a1 from eth0 and a2 from eth1", got)
	}
}

// TestStartRunsPlanesBuiltBeforeAndAfter: a plane built before Start and
// one built while it runs both start, and stop with it.
func TestStartRunsPlanesBuiltBeforeAndAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, _, others, _ := newLinks()
		l.Use([]string{"eth1"})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- l.Start(ctx) }()
		<-others["eth1"].started
		l.Use([]string{"eth2", "eth1"})
		<-others["eth2"].started
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// TestHeardIsTheOldestInUse: a ride needs a peer heard on every link
// that holds addresses; an interface that holds nothing does not count,
// and the report only moves forward.
func TestHeardIsTheOldestInUse(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	var got []int
	l, _, _, _ := newLinks(func(h time.Time) { got = append(got, int(h.Sub(t0)/time.Second)) })
	ctx := context.Background()
	eth0, eth1 := l.Heard("eth0"), l.Heard("eth1")
	eth0(at(1))
	eth1(at(2)) // eth1 holds nothing yet
	eth0(at(3))
	l.Route(map[netip.Addr]string{a2: "eth1"})
	if _, err := l.Set(ctx, wants(a1, a2)); err != nil { // eth1 in use: its 2 s is older than 3 s
		t.Fatal(err)
	}
	eth0(at(5)) // the oldest is still eth1's 2 s
	eth1(at(4)) // now 4 s
	eth1(at(6)) // eth0's 5 s is the oldest
	l.Route(nil)
	if _, err := l.Set(ctx, wants(a1)); err != nil {
		t.Fatal(err)
	}
	eth0(at(7))
	if diff := cmp.Diff([]int{1, 3, 4, 5, 7}, got); diff != "" {
		t.Errorf("reports in seconds (-want +got):\n%s", diff)
	}
}

// TestUseWatchesEveryLinkOnce: every interface given to Use has its link
// watched once, the default one included, and its state reaches OnLink.
func TestUseWatchesEveryLinkOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		watches := map[string]int{}
		got := map[string]bool{}
		def := &fakePlane{}
		l := New(Config{Default: "eth0", Plane: def.plane(false),
			Build: func(string, func(time.Time)) Plane { return (&fakePlane{started: make(chan struct{})}).plane(true) },
			WatchLink: func(ctx context.Context, iface string, report func(bool, string)) {
				mu.Lock()
				watches[iface]++
				mu.Unlock()
				report(iface == "eth0", "no carrier")
				<-ctx.Done()
			},
			OnLink: func(iface string, up bool) {
				mu.Lock()
				defer mu.Unlock()
				got[iface] = up
			},
		}, slog.New(slog.DiscardHandler))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- l.Start(ctx) }()
		l.Use([]string{"eth0", "eth1"})
		l.Use([]string{"eth1"})
		synctest.Wait()
		mu.Lock()
		if diff := cmp.Diff(map[string]int{"eth0": 1, "eth1": 1}, watches); diff != "" {
			t.Errorf("watches (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]bool{"eth0": true, "eth1": false}, got); diff != "" {
			t.Errorf("link states (-want +got):\n%s", diff)
		}
		mu.Unlock()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// TestSetFollowsAMovedRoute: when an announced address's route changes
// (its pool's interface was edited) the next Set moves its announcements
// and its guard to the new interface, with a takeover burst there.
func TestSetFollowsAMovedRoute(t *testing.T) {
	l, def, others, _ := newLinks()
	ctx := context.Background()
	if _, err := l.Set(ctx, wants(a1, a2)); err != nil {
		t.Fatal(err)
	}
	l.Announce([]netip.Addr{a1, a2}, []netip.Addr{a1, a2})
	l.Watch([]netip.Addr{a1, a2})
	l.Route(map[netip.Addr]string{a2: "eth1"})
	if _, err := l.Set(ctx, wants(a1, a2)); err != nil {
		t.Fatal(err)
	}
	eq := cmp.Comparer(func(x, y netip.Addr) bool { return x == y })
	if diff := cmp.Diff([][2][]netip.Addr{{{a1, a2}, {a1, a2}}, {{a1}, nil}}, def.announce, eq); diff != "" {
		t.Errorf("eth0's announcer (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][2][]netip.Addr{{{a2}, {a2}}}, others["eth1"].announce, eq); diff != "" {
		t.Errorf("eth1's announcer (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]netip.Addr{a2}, others["eth1"].watched, eq); diff != "" {
		t.Errorf("eth1's guard (-want +got):\n%s", diff)
	}
	// Nothing moved since: no more announcements.
	if _, err := l.Set(ctx, wants(a1, a2)); err != nil {
		t.Fatal(err)
	}
	if n := len(def.announce) + len(others["eth1"].announce); n != 3 {
		t.Errorf("%d announcements; want 3", n)
	}
}
