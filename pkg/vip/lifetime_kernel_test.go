//go:build linux

package vip

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vipkeeper/vipkeeper/internal/netnstest"
)

// TestIntegrationKernelLifetimeFacts checks, on the running kernel, the
// three facts the binder's refresh is built around.
func TestIntegrationKernelLifetimeFacts(t *testing.T) {
	ns, dev := testNetns(t)
	k := kernel{ns: ns.Handle()}
	index, _, err := k.AddrList(dev)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"192.0.2.10", "2001:db8::10"} {
		ip := netip.MustParseAddr(s)
		t.Run(s, func(t *testing.T) {
			a := vipAddr(ip)
			a.ValidLft = 30 // seconds: outlives the test
			if err := k.AddrAdd(index, a); err != nil {
				t.Fatal(err)
			}

			// valid_lft 0 is refused.
			zero := a
			zero.ValidLft = 0
			if err := k.AddrReplace(index, zero); !errors.Is(err, unix.EINVAL) {
				t.Errorf("replace with valid_lft 0: got %v, want EINVAL", err)
			}

			// A replace without IFA_PROTO resets the protocol to 0.
			noProto := a
			noProto.Proto = 0
			if err := k.AddrReplace(index, noProto); err != nil {
				t.Fatal(err)
			}
			if got := kernelAddrOf(t, k, dev, ip).Proto; got != 0 {
				t.Errorf("protocol after a replace without IFA_PROTO: got %#x, want 0", got)
			}
			if err := k.AddrReplace(index, a); err != nil {
				t.Fatal(err)
			}
			if got := kernelAddrOf(t, k, dev, ip).Proto; got != Protocol {
				t.Errorf("protocol after a replace with IFA_PROTO: got %#x, want %#x", got, Protocol)
			}

			// A replace re-creates an address the kernel has expired.
			short := a
			short.ValidLft = 1
			if err := k.AddrReplace(index, short); err != nil {
				t.Fatal(err)
			}
			netnstest.WaitFor(t, pollTimeout, "the kernel to expire "+s, func() (bool, string) {
				_, ok := findAddr(t, k, dev, ip)
				return !ok, "still there"
			})
			if err := k.AddrReplace(index, a); err != nil {
				t.Fatalf("replace after expiry: %v", err)
			}
			if _, ok := findAddr(t, k, dev, ip); !ok {
				t.Error("replace after expiry: the address is not back; the binder's guard against re-creating it is not needed on this kernel")
			}
		})
	}
}

func findAddr(t *testing.T, k kernel, dev string, ip netip.Addr) (kernelAddr, bool) {
	t.Helper()
	_, addrs, err := k.AddrList(dev)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(addrs, func(a kernelAddr) bool { return a.Prefix.Addr() == ip })
	if i < 0 {
		return kernelAddr{}, false
	}
	return addrs[i], true
}

func kernelAddrOf(t *testing.T, k kernel, dev string, ip netip.Addr) kernelAddr {
	t.Helper()
	a, ok := findAddr(t, k, dev, ip)
	if !ok {
		t.Fatalf("%s is not on %s", ip, dev)
	}
	return a
}

// BenchmarkKernelExpiryLateness measures how late the kernel removes an
// address whose valid_lft ran out: alone, and when neighbouring addresses
// on the same interface were refreshed (NLM_F_REPLACE) just before it was
// due, as the binder does in services mode. It reports medians in ms; the
// number of samples is fixed, whatever b.N. Run it as root:
//
//	go test -run '^$' -bench KernelExpiryLateness -benchtime 1x ./pkg/vip/
func BenchmarkKernelExpiryLateness(b *testing.B) {
	const (
		samples    = 5
		lifetime   = 2 // seconds, the shortest that leaves room to refresh neighbours
		neighbours = 50
	)
	for _, family := range []string{"ipv4", "ipv6"} {
		for _, busy := range []bool{false, true} {
			name := family + "/alone"
			if busy {
				name = family + "/neighbours_refreshed"
			}
			b.Run(name, func(b *testing.B) {
				netnstest.RequireRoot(b, "creates a network namespace")
				ns := netnstest.New(b, "vkbench")
				netnstest.Veth(b, ns, ns, "vk0", "vk1")
				ns.IP(b, "link", "set", "vk0", "up")
				k := kernel{ns: ns.Handle()}
				index, _, err := k.AddrList("vk0")
				if err != nil {
					b.Fatal(err)
				}
				var others []kernelAddr
				if busy {
					for i := range neighbours {
						a := vipAddr(benchAddr(family, 100+i))
						a.ValidLft = 60
						if err := k.AddrAdd(index, a); err != nil {
							b.Fatal(err)
						}
						others = append(others, a)
					}
				}
				updates := make(chan netlink.AddrUpdate, 1024)
				done := make(chan struct{})
				defer close(done)
				if err := k.AddrSubscribe(updates, done, nil); err != nil {
					b.Fatal(err)
				}
				var late []time.Duration
				for range b.N {
					late = late[:0]
					for i := range samples {
						a := vipAddr(benchAddr(family, 10+i))
						a.ValidLft = lifetime
						if err := k.AddrAdd(index, a); err != nil {
							b.Fatal(err)
						}
						due := time.Now().Add(lifetime * time.Second)
						if busy {
							time.Sleep(time.Until(due.Add(-100 * time.Millisecond)))
							for _, o := range others {
								if err := k.AddrReplace(index, o); err != nil {
									b.Fatal(err)
								}
							}
						}
						gone, err := waitDeleted(updates, a.Prefix.Addr(), 10*time.Second)
						if err != nil {
							b.Fatal(err)
						}
						late = append(late, gone.Sub(due))
					}
					slices.Sort(late)
				}
				b.ReportMetric(float64(late[len(late)/2].Milliseconds()), "median_late_ms")
				b.ReportMetric(float64(late[len(late)-1].Milliseconds()), "max_late_ms")
				b.Logf("%s: lateness of %d expiries: %v", name, len(late), late)
			})
		}
	}
}

func benchAddr(family string, i int) netip.Addr {
	if family == "ipv4" {
		return netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
	}
	return netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", i))
}

// waitDeleted returns when the RTM_DELADDR of ip arrived.
func waitDeleted(updates <-chan netlink.AddrUpdate, ip netip.Addr, timeout time.Duration) (time.Time, error) {
	deadline := time.After(timeout)
	for {
		select {
		case u, ok := <-updates:
			if !ok {
				return time.Time{}, errors.New("address subscription closed")
			}
			got, _ := netip.AddrFromSlice(u.LinkAddress.IP)
			if !u.NewAddr && got.Unmap() == ip {
				return time.Now(), nil
			}
		case <-deadline:
			return time.Time{}, fmt.Errorf("%s not expired within %v", ip, timeout)
		}
	}
}
