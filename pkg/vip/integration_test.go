package vip

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// pollTimeout bounds every wait for the kernel or the binder in this file.
const pollTimeout = 5 * time.Second

// testNetns creates a network namespace of the test's own with a veth pair in
// it and returns a handle to it, its name and the interface to use. Everything
// is deleted in t.Cleanup.
func testNetns(t *testing.T) (netns.NsHandle, string, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	name := "vktest-" + strings.ToLower(rand.Text()[:8])
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		if strings.Contains(string(out), "not permitted") || errors.Is(err, os.ErrPermission) {
			t.Skipf("needs permission to create a network namespace: %s", out)
		}
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("open netns %s: %v", name, err)
	}
	t.Cleanup(func() { ns.Close() })
	// The veth pair lives and dies with the namespace; its peer stays down,
	// so nothing is ever sent anywhere.
	ipIn(t, name, "link", "add", "vk0", "type", "veth", "peer", "name", "vk1")
	ipIn(t, name, "link", "set", "vk0", "up")
	return ns, name, "vk0"
}

// ipIn runs ip(8) in the namespace and returns its output.
func ipIn(t *testing.T, ns string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip -n %s %s: %v: %s", ns, strings.Join(args, " "), err, out)
	}
	return out
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

func ipAddrs(t *testing.T, ns, dev string) map[string]ipAddrInfo {
	t.Helper()
	var links []struct {
		AddrInfo []ipAddrInfo `json:"addr_info"`
	}
	out := ipIn(t, ns, "-j", "addr", "show", "dev", dev)
	if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
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
	for deadline := time.Now().Add(pollTimeout); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", pollTimeout, what)
		}
	}
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
	ns, nsName, dev := testNetns(t)
	k := kernel{ns: ns}
	var (
		vip4     = netip.MustParseAddr("192.0.2.10")
		vip6     = netip.MustParseAddr("2001:db8::10")
		manual   = "192.0.2.11"                            // an admin's address, not desired
		twin     = netip.MustParseAddr("198.51.100.20")    // an admin's address equal to a VIP
		leftover = netip.MustParsePrefix("203.0.113.5/32") // ours, from a "crashed" run
	)
	ipIn(t, nsName, "addr", "add", manual+"/32", "dev", dev)
	ipIn(t, nsName, "addr", "add", twin.String()+"/32", "dev", dev)

	restored := make(chan netip.Addr, 16)
	b := newWithNetlink(Config{
		Interface:         dev,
		ReconcileInterval: time.Hour, // so that only events restore
		OnRestored:        func(a netip.Addr) { restored <- a },
	}, k, testLogger(t))

	t.Run("set adds ours with the right shape", func(t *testing.T) {
		added, err := b.Set(t.Context(), []netip.Addr{vip6, twin, vip4})
		if err != nil {
			t.Fatal(err)
		}
		if want := []netip.Addr{vip4, vip6}; !slices.Equal(added, want) {
			t.Errorf("Set() added = %v, want %v", added, want)
		}
		if want := []netip.Addr{vip4, twin, vip6}; !slices.Equal(b.Bound(), want) {
			t.Errorf("Bound() = %v, want %v", b.Bound(), want)
		}
		want := []netip.Prefix{netip.PrefixFrom(vip4, 32), netip.PrefixFrom(vip6, 128)}
		if got := ourAddrs(t, k, dev); !slices.Equal(got, want) {
			t.Errorf("addresses with our proto = %v, want %v", got, want)
		}
		addrs := ipAddrs(t, nsName, dev)
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
			ipIn(t, nsName, "addr", "del", vip4.String()+"/32", "dev", dev)
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
		addrs := ipAddrs(t, nsName, dev)
		for _, s := range []string{manual, twin.String()} {
			if _, ok := addrs[s]; !ok {
				t.Errorf("%s was removed; it is not ours", s)
			}
		}
		if len(b.Bound()) != 0 {
			t.Errorf("Bound() = %v, want empty", b.Bound())
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
		if _, err := crashed.Set(t.Context(), []netip.Addr{leftover.Addr()}); err != nil {
			t.Fatal(err)
		}
		if got := ourAddrs(t, k, dev); !slices.Equal(got, []netip.Prefix{leftover}) {
			t.Fatalf("addresses with our proto = %v, want %v", got, leftover)
		}
		fresh := newWithNetlink(Config{Interface: dev}, k, testLogger(t))
		startBinder(t, fresh)
		eventually(t, "the stale VIP is gone", func() bool { return len(ourAddrs(t, k, dev)) == 0 })
		addrs := ipAddrs(t, nsName, dev)
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
