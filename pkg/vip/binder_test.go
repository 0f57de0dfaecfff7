package vip

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"
)

const testIf, testIndex = "eth0", 7

var (
	a4 = netip.MustParseAddr("192.0.2.10")
	b4 = netip.MustParseAddr("192.0.2.11")
	c4 = netip.MustParseAddr("198.51.100.7")
	a6 = netip.MustParseAddr("2001:db8::10")
	// opts compares netip values by value and nil like empty.
	opts = []cmp.Option{
		cmp.Comparer(func(x, y netip.Addr) bool { return x == y }),
		cmp.Comparer(func(x, y netip.Prefix) bool { return x == y }),
		cmpopts.EquateEmpty(),
	}
)

// ours is an address as the binder adds it; foreign one added by someone else.
func ours(ip netip.Addr) kernelAddr { return vipAddr(ip) }

func foreign(ip netip.Addr, bits int, proto uint8) kernelAddr {
	return kernelAddr{Prefix: netip.PrefixFrom(ip, bits), Proto: proto, PreferredLft: infiniteLifetime, ValidLft: infiniteLifetime}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestSetReconcile(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name      string
		kernel    []kernelAddr
		addErr    map[netip.Addr]error
		delErr    map[netip.Addr]error
		set       []netip.Addr
		wantAdded []netip.Addr
		wantAdds  []call
		wantDels  []call
		wantErr   error
		wantAfter []kernelAddr
	}{{
		name:      "adds missing v4 and v6 with host prefix, proto, lifetimes and nodad",
		set:       []netip.Addr{a6, a4, a4},
		wantAdded: []netip.Addr{a4, a6},
		wantAdds: []call{
			{testIndex, kernelAddr{Prefix: netip.MustParsePrefix("192.0.2.10/32"), Scope: unix.RT_SCOPE_UNIVERSE, Proto: Protocol, PreferredLft: 0, ValidLft: 0xffffffff}},
			{testIndex, kernelAddr{Prefix: netip.MustParsePrefix("2001:db8::10/128"), Flags: unix.IFA_F_NODAD, Scope: unix.RT_SCOPE_UNIVERSE, Proto: Protocol, PreferredLft: 0, ValidLft: 0xffffffff}},
		},
		wantAfter: []kernelAddr{ours(a4), ours(a6)},
	}, {
		name:      "v4-mapped v6 is added as v4",
		set:       []netip.Addr{netip.MustParseAddr("::ffff:192.0.2.10")},
		wantAdded: []netip.Addr{a4},
		wantAdds:  []call{{testIndex, ours(a4)}},
		wantAfter: []kernelAddr{ours(a4)},
	}, {
		name:      "removes ours not desired, keeps ours desired",
		kernel:    []kernelAddr{ours(a4), ours(b4), ours(a6)},
		set:       []netip.Addr{a4},
		wantDels:  []call{{testIndex, ours(b4)}, {testIndex, ours(a6)}},
		wantAfter: []kernelAddr{ours(a4)},
	}, {
		name:      "leaves a foreign identical address alone",
		kernel:    []kernelAddr{foreign(a4, 32, 0), foreign(a6, 128, 2)},
		set:       []netip.Addr{a4, a6},
		wantAfter: []kernelAddr{foreign(a4, 32, 0), foreign(a6, 128, 2)},
	}, {
		name:      "foreign identical is not removed when no longer desired",
		kernel:    []kernelAddr{foreign(a4, 32, 0)},
		set:       nil,
		wantAfter: []kernelAddr{foreign(a4, 32, 0)},
	}, {
		name:      "foreign same IP with another prefix length counts as held",
		kernel:    []kernelAddr{foreign(a4, 24, 0)},
		set:       []netip.Addr{a4},
		wantAfter: []kernelAddr{foreign(a4, 24, 0)},
	}, {
		name:      "leaves foreign other addresses alone",
		kernel:    []kernelAddr{foreign(b4, 24, 0), foreign(c4, 32, 1)},
		set:       []netip.Addr{a4},
		wantAdded: []netip.Addr{a4},
		wantAdds:  []call{{testIndex, ours(a4)}},
		wantAfter: []kernelAddr{foreign(b4, 24, 0), foreign(c4, 32, 1), ours(a4)},
	}, {
		name:     "add racing with someone else's add is not an error and not added",
		addErr:   map[netip.Addr]error{a4: unix.EEXIST},
		set:      []netip.Addr{a4},
		wantAdds: []call{{testIndex, ours(a4)}},
	}, {
		name:      "a failed add is reported and the others still happen",
		addErr:    map[netip.Addr]error{a4: errBoom},
		set:       []netip.Addr{a4, a6},
		wantAdded: []netip.Addr{a6},
		wantAdds:  []call{{testIndex, ours(a4)}, {testIndex, ours(a6)}},
		wantErr:   errBoom,
		wantAfter: []kernelAddr{ours(a6)},
	}, {
		name:      "delete of an address already gone is not an error",
		kernel:    []kernelAddr{ours(b4), ours(a6)},
		delErr:    map[netip.Addr]error{b4: unix.EADDRNOTAVAIL, a6: unix.ENOENT},
		wantDels:  []call{{testIndex, ours(b4)}, {testIndex, ours(a6)}},
		wantAfter: []kernelAddr{ours(b4), ours(a6)},
	}, {
		name:      "a failed delete is reported",
		kernel:    []kernelAddr{ours(b4)},
		delErr:    map[netip.Addr]error{b4: unix.EPERM},
		wantDels:  []call{{testIndex, ours(b4)}},
		wantErr:   unix.EPERM,
		wantAfter: []kernelAddr{ours(b4)},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(testIf, testIndex, tt.kernel...)
			for ip, err := range tt.addErr {
				f.addErr[ip] = err
			}
			for ip, err := range tt.delErr {
				f.delErr[ip] = err
			}
			b := newWithNetlink(Config{Interface: testIf}, f, testLogger(t))

			added, err := b.Set(t.Context(), forever(tt.set...))
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("Set() error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantAdded, added, opts...); diff != "" {
				t.Errorf("Set() added (-want +got):\n%s", diff)
			}
			adds, dels := f.calls()
			if diff := cmp.Diff(tt.wantAdds, adds, opts...); diff != "" {
				t.Errorf("AddrAdd calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantDels, dels, opts...); diff != "" {
				t.Errorf("AddrDel calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantAfter, f.kernel(testIndex), opts...); diff != "" {
				t.Errorf("kernel after (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetInterfaceMissing(t *testing.T) {
	f := newFake("other0", testIndex)
	b := newWithNetlink(Config{Interface: testIf}, f, testLogger(t))
	added, err := b.Set(t.Context(), forever(a4))
	if !errors.Is(err, ErrInterfaceNotFound) {
		t.Fatalf("Set() error = %v, want %v", err, ErrInterfaceNotFound)
	}
	if len(added) != 0 {
		t.Errorf("Set() added = %v, want none", added)
	}
}

func TestSetInvalidAddr(t *testing.T) {
	b := newWithNetlink(Config{Interface: testIf}, newFake(testIf, testIndex), testLogger(t))
	for _, a := range []netip.Addr{{}, netip.MustParseAddr("fe80::1%eth0")} {
		if _, err := b.Set(t.Context(), forever(a4, a)); !errors.Is(err, ErrInvalidAddr) {
			t.Errorf("Set(%v) error = %v, want %v", a, err, ErrInvalidAddr)
		}
	}
}

// A removal that Set finds is reported in Set's result, not via OnRestored,
// so that the caller is never called back from inside its own Set.
func TestSetReportsRemovalAsAdded(t *testing.T) {
	f := newFake(testIf, testIndex)
	var restored []netip.Addr
	b := newWithNetlink(Config{Interface: testIf, OnRestored: func(a netip.Addr) { restored = append(restored, a) }}, f, testLogger(t))
	if _, err := b.Set(t.Context(), forever(a4, a6)); err != nil {
		t.Fatal(err)
	}
	f.remove(testIndex, a4)
	added, err := b.Set(t.Context(), forever(a4, a6))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]netip.Addr{a4}, added, opts...); diff != "" {
		t.Errorf("Set() added (-want +got):\n%s", diff)
	}
	if len(restored) != 0 {
		t.Errorf("OnRestored called with %v, want no call", restored)
	}
}

func TestSetGivesUpWhenContextEnds(t *testing.T) {
	f := newFake(testIf, testIndex)
	b := newWithNetlink(Config{Interface: testIf}, f, testLogger(t))
	b.sem <- struct{}{} // a reconcile in progress
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := b.Set(ctx, forever(a4)); !errors.Is(err, context.Canceled) {
		t.Errorf("Set() error = %v, want %v", err, context.Canceled)
	}
	<-b.sem
	if len(b.desired) != 0 || f.nlists != 0 {
		t.Errorf("desired = %v, dumps = %d; want unchanged and none", b.desired, f.nlists)
	}
}

// A desired VIP held by someone else is warned about once, not on every
// reconcile.
func TestForeignWarnedOnce(t *testing.T) {
	var buf bytes.Buffer
	f := newFake(testIf, testIndex, foreign(a4, 32, 0))
	b := newWithNetlink(Config{Interface: testIf}, f, slog.New(slog.NewTextHandler(&buf, nil)))
	for range 3 {
		if _, err := b.Set(t.Context(), forever(a4)); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(buf.String(), "without our protocol"); n != 1 {
		t.Errorf("warnings about the foreign address = %d, want 1; log:\n%s", n, buf.String())
	}
}
