//go:build linux

package vip

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/netnstest"
)

// pollTimeout bounds every wait for the kernel or the binder in this file.
const pollTimeout = 5 * time.Second

// testNetns creates a network namespace of the test's own with a veth pair in
// it and returns it and the interface to use. Everything is deleted in
// t.Cleanup.
func testNetns(t *testing.T) (*netnstest.NS, string) {
	t.Helper()
	netnstest.RequireRoot(t, "creates a network namespace")
	ns := netnstest.New(t, "vktest")
	// The veth pair lives and dies with the namespace; its peer stays down,
	// so nothing is ever sent anywhere.
	netnstest.Veth(t, ns, ns, "vk0", "vk1")
	ns.IP(t, "link", "set", "vk0", "up")
	return ns, "vk0"
}

// ipAddrInfo is the part of `ip -j addr show` output the tests look at.
type ipAddrInfo struct {
	Local     string `json:"local"`
	Prefixlen int    `json:"prefixlen"`
	Scope     string `json:"scope"`
	NoDAD     bool   `json:"nodad"`
	Deprecat  bool   `json:"deprecated"`
	Preferred uint32 `json:"preferred_life_time"`
	Valid     uint32 `json:"valid_life_time"`
}

func ipAddrs(t *testing.T, ns *netnstest.NS, dev string) map[string]ipAddrInfo {
	t.Helper()
	var links []struct {
		AddrInfo []ipAddrInfo `json:"addr_info"`
	}
	out := ns.IP(t, "-j", "addr", "show", "dev", dev)
	if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 {
		t.Fatalf("parse ip -j addr show: %v: %s", err, out)
	}
	m := map[string]ipAddrInfo{}
	for _, a := range links[0].AddrInfo {
		m[a.Local] = a
	}
	return m
}

// ourAddrs returns the addresses on dev that carry Protocol, from our dump
// (iproute2 6.1 does not print IFA_PROTO).
func ourAddrs(t *testing.T, k kernel, dev string) []netip.Prefix {
	t.Helper()
	_, addrs, err := k.AddrList(dev)
	if err != nil {
		t.Fatalf("AddrList(%s): %v", dev, err)
	}
	var got []netip.Prefix
	for _, a := range addrs {
		if a.Proto == Protocol {
			got = append(got, a.Prefix)
		}
	}
	slices.SortFunc(got, func(x, y netip.Prefix) int { return x.Addr().Compare(y.Addr()) })
	return got
}

// eventually polls cond every 20 ms for at most pollTimeout.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	netnstest.WaitFor(t, pollTimeout, what, func() (bool, string) { return cond(), "" })
}

// startBinder runs b.Start until stop is called or the test ends.
func startBinder(t *testing.T, b *Binder) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- b.Start(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Start() = %v, want nil", err)
			}
		case <-time.After(pollTimeout):
			t.Errorf("Start did not return within %v of cancel", pollTimeout)
		}
	})
	t.Cleanup(stop)
	return stop
}

func TestKernel(t *testing.T) {
	ns, dev := testNetns(t)
	k := kernel{ns: ns.Handle()}
	var (
		vip4     = netip.MustParseAddr("192.0.2.10")
		vip6     = netip.MustParseAddr("2001:db8::10")
		manual   = "192.0.2.11"                            // an admin's address, not desired
		twin     = netip.MustParseAddr("198.51.100.20")    // an admin's address equal to a VIP
		leftover = netip.MustParsePrefix("203.0.113.5/32") // ours, from a "crashed" run
	)
	ns.IP(t, "addr", "add", manual+"/32", "dev", dev)
	ns.IP(t, "addr", "add", twin.String()+"/32", "dev", dev)

	restored := make(chan netip.Addr, 16)
	b := newWithNetlink(Config{
		Interface:         dev,
		ReconcileInterval: time.Hour, // so that only events restore
		OnRestored:        func(a netip.Addr) { restored <- a },
	}, k, testLogger(t))

	t.Run("set adds ours with the right shape", func(t *testing.T) {
		added, err := b.Set(t.Context(), forever(vip6, twin, vip4))
		if err != nil {
			t.Fatal(err)
		}
		if want := []netip.Addr{vip4, vip6}; !slices.Equal(added, want) {
			t.Errorf("Set() added = %v, want %v", added, want)
		}
		want := []netip.Prefix{netip.PrefixFrom(vip4, 32), netip.PrefixFrom(vip6, 128)}
		if got := ourAddrs(t, k, dev); !slices.Equal(got, want) {
			t.Errorf("addresses with our proto = %v, want %v", got, want)
		}
		addrs := ipAddrs(t, ns, dev)
		// IPv4 reports a permanent address's preferred lifetime as forever;
		// "deprecated" is how it shows that preferred_lft was 0.
		if a := addrs[vip4.String()]; a.Prefixlen != 32 || a.Scope != "global" || !a.Deprecat || a.Valid != infiniteLifetime {
			t.Errorf("%s = %+v, want /32 global deprecated valid forever", vip4, a)
		}
		if a := addrs[vip6.String()]; a.Prefixlen != 128 || a.Scope != "global" || !a.NoDAD || !a.Deprecat || a.Preferred != 0 || a.Valid != infiniteLifetime {
			t.Errorf("%s = %+v, want /128 global nodad preferred 0 valid forever", vip6, a)
		}
	})

	stopB := startBinder(t, b)

	t.Run("an address of ours removed by hand is restored", func(t *testing.T) {
		// Twice: the first restore may come from Start's first reconcile,
		// the second can only come from an address event.
		for i := range 2 {
			ns.IP(t, "addr", "del", vip4.String()+"/32", "dev", dev)
			select {
			case a := <-restored:
				if a != vip4 {
					t.Errorf("removal %d: OnRestored(%v), want %v", i, a, vip4)
				}
			case <-time.After(pollTimeout):
				t.Fatalf("removal %d: OnRestored not called within %v", i, pollTimeout)
			}
			eventually(t, "the VIP is back with our proto", func() bool {
				return slices.Contains(ourAddrs(t, k, dev), netip.PrefixFrom(vip4, 32))
			})
		}
	})

	t.Run("set nil removes ours only", func(t *testing.T) {
		if _, err := b.Set(t.Context(), nil); err != nil {
			t.Fatal(err)
		}
		if got := ourAddrs(t, k, dev); len(got) != 0 {
			t.Errorf("addresses with our proto = %v, want none", got)
		}
		addrs := ipAddrs(t, ns, dev)
		for _, s := range []string{manual, twin.String()} {
			if _, ok := addrs[s]; !ok {
				t.Errorf("%s was removed; it is not ours", s)
			}
		}
	})

	stopB() // it would otherwise remove the leftover below itself
	select {
	case a := <-restored:
		t.Errorf("extra OnRestored(%v)", a)
	default:
	}

	t.Run("a fresh binder removes a stale address of ours", func(t *testing.T) {
		crashed := newWithNetlink(Config{Interface: dev}, k, testLogger(t))
		if _, err := crashed.Set(t.Context(), forever(leftover.Addr())); err != nil {
			t.Fatal(err)
		}
		if got := ourAddrs(t, k, dev); !slices.Equal(got, []netip.Prefix{leftover}) {
			t.Fatalf("addresses with our proto = %v, want %v", got, leftover)
		}
		fresh := newWithNetlink(Config{Interface: dev}, k, testLogger(t))
		startBinder(t, fresh)
		eventually(t, "the stale VIP is gone", func() bool { return len(ourAddrs(t, k, dev)) == 0 })
		addrs := ipAddrs(t, ns, dev)
		for _, s := range []string{manual, twin.String()} {
			if _, ok := addrs[s]; !ok {
				t.Errorf("%s was removed; it is not ours", s)
			}
		}
	})

	t.Run("missing interface", func(t *testing.T) {
		if _, _, err := k.AddrList("vk-nope"); !errors.Is(err, ErrInterfaceNotFound) {
			t.Errorf("AddrList(vk-nope) error = %v, want %v", err, ErrInterfaceNotFound)
		}
	})
}
