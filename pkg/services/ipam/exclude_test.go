package ipam

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func prefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, x := range s {
		out[i] = netip.MustParsePrefix(x)
	}
	return out
}

func TestHostExclusions(t *testing.T) {
	for _, tt := range []struct {
		name  string
		addrs []netip.Prefix
		want  []Exclusion
	}{
		{"none", nil, nil},
		{"IPv4 /24: the address, network and broadcast", prefixes("192.0.2.10/24"), []Exclusion{
			{netip.MustParsePrefix("192.0.2.0/32"), "the network address of 192.0.2.0/24, connected on eth0"},
			{netip.MustParsePrefix("192.0.2.10/32"), "an address of this node on eth0 (192.0.2.10/24)"},
			{netip.MustParsePrefix("192.0.2.255/32"), "the broadcast address of 192.0.2.0/24, connected on eth0"},
		}},
		{"IPv4 /31 and /32 have neither", prefixes("198.51.100.0/31", "203.0.113.7/32"), []Exclusion{
			{netip.MustParsePrefix("198.51.100.0/32"), "an address of this node on eth0 (198.51.100.0/31)"},
			{netip.MustParsePrefix("203.0.113.7/32"), "an address of this node on eth0 (203.0.113.7/32)"},
		}},
		{"IPv6 /64: the address and the subnet-router anycast", prefixes("2001:db8::10/64"), []Exclusion{
			{netip.MustParsePrefix("2001:db8::/128"), "the subnet-router anycast address of 2001:db8::/64, connected on eth0"},
			{netip.MustParsePrefix("2001:db8::10/128"), "an address of this node on eth0 (2001:db8::10/64)"},
		}},
		{"IPv6 /127 has no anycast", prefixes("2001:db8::1/127"), []Exclusion{
			{netip.MustParsePrefix("2001:db8::1/128"), "an address of this node on eth0 (2001:db8::1/127)"},
		}},
		{"link-local and loopback are skipped", prefixes("fe80::1/64", "127.0.0.1/8", "::1/128"), nil},
		{"two addresses in one subnet: each said once", prefixes("192.0.2.10/24", "192.0.2.11/24", "192.0.2.0/32"), []Exclusion{
			{netip.MustParsePrefix("192.0.2.0/32"), "the network address of 192.0.2.0/24, connected on eth0"},
			{netip.MustParsePrefix("192.0.2.10/32"), "an address of this node on eth0 (192.0.2.10/24)"},
			{netip.MustParsePrefix("192.0.2.11/32"), "an address of this node on eth0 (192.0.2.11/24)"},
			{netip.MustParsePrefix("192.0.2.255/32"), "the broadcast address of 192.0.2.0/24, connected on eth0"},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, HostExclusions("eth0", tt.addrs), cmpNet); diff != "" {
				t.Errorf("HostExclusions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnusable(t *testing.T) {
	for _, tt := range []struct {
		addr string
		why  string // "" for usable
	}{
		{"192.0.2.1", ""},
		{"2001:db8::1", ""},
		{"0.0.0.0", `in the "this network" block 0.0.0.0/8`},
		{"0.1.2.3", `in the "this network" block 0.0.0.0/8`},
		{"127.0.0.1", "in the loopback block 127.0.0.0/8"},
		{"169.254.1.1", "in the link-local block 169.254.0.0/16"},
		{"224.0.0.1", "in the multicast block 224.0.0.0/4"},
		{"240.0.0.1", "in the reserved (and broadcast) block 240.0.0.0/4"},
		{"255.255.255.255", "in the reserved (and broadcast) block 240.0.0.0/4"},
		{"::", "in the unspecified block ::/128"},
		{"::1", "in the loopback block ::1/128"},
		{"::192.0.2.1", "an IPv4-compatible IPv6 address (::/96, deprecated by RFC 4291), which some stacks send over IPv4"},
		{"::ffff:192.0.2.1", "an IPv4-mapped IPv6 address (write the IPv4 address)"},
		{"fe80::1", "in the link-local block fe80::/10"},
		{"fe80::1%eth0", "a zoned address"},
		{"ff02::1", "in the multicast block ff00::/8"},
	} {
		why, bad := Unusable(netip.MustParseAddr(tt.addr))
		if why != tt.why || bad != (tt.why != "") {
			t.Errorf("Unusable(%s) = %q, %v; want %q", tt.addr, why, bad, tt.why)
		}
	}
}

func TestAllocateSkipsExclusions(t *testing.T) {
	specs := []PoolSpec{{Name: "lan", Addresses: []string{"192.0.2.0-192.0.2.3", "192.0.2.254-192.0.2.255", "2001:db8::-2001:db8::2"}}}
	excl := HostExclusions("eth0", prefixes("192.0.2.1/24", "2001:db8::1/64"))
	a, err := New(specs, excl...)
	if err != nil {
		t.Fatal(err)
	}
	wantList := []PoolExclusion{
		{"lan", Exclusion{netip.MustParsePrefix("192.0.2.0/32"), "the network address of 192.0.2.0/24, connected on eth0"}},
		{"lan", Exclusion{netip.MustParsePrefix("192.0.2.1/32"), "an address of this node on eth0 (192.0.2.1/24)"}},
		{"lan", Exclusion{netip.MustParsePrefix("192.0.2.255/32"), "the broadcast address of 192.0.2.0/24, connected on eth0"}},
		{"lan", Exclusion{netip.MustParsePrefix("2001:db8::/128"), "the subnet-router anycast address of 2001:db8::/64, connected on eth0"}},
		{"lan", Exclusion{netip.MustParsePrefix("2001:db8::1/128"), "an address of this node on eth0 (2001:db8::1/64)"}},
	}
	if diff := cmp.Diff(wantList, a.Exclusions(), cmpNet); diff != "" {
		t.Errorf("Exclusions (-want +got):\n%s", diff)
	}
	var got []string
	for i := range 3 {
		al, err := a.Allocate(svc(fmt.Sprint("v4-", i)))
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		got = append(got, al.Addrs[0].String())
	}
	if _, err := a.Allocate(svc("v4-more")); !errors.Is(err, ErrPoolExhausted) {
		t.Errorf("a fourth IPv4 allocation: %v, want ErrPoolExhausted", err)
	}
	al, err := a.Allocate(svc("v6", families("IPv6")))
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, al.Addrs[0].String())
	if diff := cmp.Diff([]string{"192.0.2.2", "192.0.2.3", "192.0.2.254"}, got[:3]); diff != "" {
		t.Errorf("IPv4 picks (-want +got):\n%s", diff)
	}
	if got[3] != "2001:db8::2" {
		t.Errorf("IPv6 pick %s, want 2001:db8::2", got[3])
	}
}

func TestRequestedExclusion(t *testing.T) {
	a, err := New([]PoolSpec{{Name: "lan", Addresses: []string{"192.0.2.0/28"}}}, HostExclusions("eth0", prefixes("192.0.2.5/24"))...)
	if err != nil {
		t.Fatal(err)
	}
	x := mustAddr("192.0.2.5")
	_, err = a.Allocate(svc("asks", wantIP("192.0.2.5")))
	var ae *AllocationError
	if !errors.As(err, &ae) || !errors.Is(err, ErrExcluded) || ae.Reason != "192.0.2.5 is not handed out: it is an address of this node on eth0 (192.0.2.5/24)" {
		t.Fatalf("requesting an excluded address: %v", err)
	}
	// A Service that holds it already keeps it, and may ask for it again.
	if _, err := a.Restore(svc("old"), []netip.Addr{x}); err != nil {
		t.Fatalf("Restore of an excluded address: %v", err)
	}
	if _, err := a.Allocate(svc("old", wantIP("192.0.2.5"))); err != nil {
		t.Fatalf("re-Allocate of a held excluded address: %v", err)
	}
	if why, ok := a.Excluded(x); !ok || why == "" {
		t.Errorf("Excluded(%s) = %q, %v", x, why, ok)
	}
	if _, ok := a.Excluded(mustAddr("192.0.2.6")); ok {
		t.Error("Excluded(192.0.2.6) = true")
	}
	// Released, it is not handed out again.
	a.Release("default/old")
	for i := range 13 {
		al, err := a.Allocate(svc(fmt.Sprint("s", i)))
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		if al.Addrs[0] == x {
			t.Fatalf("allocation %d got the excluded %s", i, x)
		}
	}
}

// TestIPv4CompatibleSkippedWhole: a range that starts inside ::/96 skips
// the whole block in one step (2^32 addresses) and is not refused.
func TestIPv4CompatibleSkippedWhole(t *testing.T) {
	a := newTestAllocator(t, []PoolSpec{{Name: "odd", Addresses: []string{"::2-::1:0:1"}}})
	al, err := a.Allocate(svc("a", families("IPv6")))
	if err != nil {
		t.Fatal(err)
	}
	if want := mustAddr("::1:0:0"); al.Addrs[0] != want {
		t.Errorf("got %s, want %s", al.Addrs[0], want)
	}
	if len(a.Exclusions()) != 1 {
		t.Errorf("Exclusions = %v, want the ::/96 block", a.Exclusions())
	}
}

// TestExclusionProperty: random allocations and releases over a pool with
// exclusions never hand out an excluded address, and always take the
// lowest address that is neither in use nor excluded.
func TestExclusionProperty(t *testing.T) {
	specs := []PoolSpec{{Name: "p", Addresses: []string{"192.0.2.0/28", "2001:db8::-2001:db8::f"}}}
	excl := HostExclusions("eth0", prefixes("192.0.2.3/24", "192.0.2.9/28", "2001:db8::4/64", "2001:db8::8/125"))
	for seed := range uint64(10) {
		rng := rand.New(rand.NewPCG(seed, 3))
		a, err := New(specs, excl...)
		if err != nil {
			t.Fatal(err)
		}
		held := map[string]netip.Addr{}
		for step := range 300 {
			key := fmt.Sprint("s", rng.IntN(12))
			fam := []string{"IPv4", "IPv6"}[rng.IntN(2)]
			if _, ok := held[key]; ok {
				a.Release("default/" + key)
				delete(held, key)
				continue
			}
			al, err := a.Allocate(svc(key, families(fam)))
			if errors.Is(err, ErrPoolExhausted) {
				continue
			}
			if err != nil {
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
			x := al.Addrs[0]
			if why, ok := a.Excluded(x); ok {
				t.Fatalf("seed %d step %d: handed out %s, which is %s", seed, step, x, why)
			}
			_, s := a.locate(x)
			for y := s.r.First; y.Less(x); y = y.Next() {
				if _, ex := a.Excluded(y); !ex && len(holdersOf(a, y)) == 0 {
					t.Fatalf("seed %d step %d: got %s, but %s is lower and free", seed, step, x, y)
				}
			}
			held[key] = x
		}
	}
}
