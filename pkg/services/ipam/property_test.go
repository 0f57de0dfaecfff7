package ipam

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

var propPools = []PoolSpec{
	{Name: "p1", Addresses: []string{"192.0.2.0/29", "2001:db8::/126"}},
	{Name: "p2", Addresses: []string{"192.0.2.100-192.0.2.102", "2001:db8::10-2001:db8::11"}, Namespaces: []string{"a"}},
}

// candidates are the addresses requests may name: every pool address plus
// some outside.
func candidates(t *testing.T) []netip.Addr {
	xs := []netip.Addr{mustAddr("192.0.2.0"), mustAddr("203.0.113.1"), mustAddr("2001:db8::99")}
	for _, p := range newTestAllocator(t, propPools).pools {
		for _, s := range p.spans {
			for x := s.r.First; s.r.Contains(x); x = x.Next() {
				xs = append(xs, x)
			}
		}
	}
	return xs
}

func randomRequest(rng *rand.Rand, cands []netip.Addr) Request {
	ns := []string{"default", "a"}[rng.IntN(2)]
	r := Request{Key: fmt.Sprintf("%s/s%d", ns, rng.IntN(5)), Namespace: ns}
	r.SharingKey = []string{"", "k1", "k2"}[rng.IntN(3)]
	r.Placement = []string{"", "", "local:app=x"}[rng.IntN(3)]
	for _, p := range []Port{{"TCP", 80}, {"TCP", 443}, {"UDP", 53}} {
		if rng.IntN(3) == 0 {
			r.Ports = append(r.Ports, p)
		}
	}
	switch rng.IntN(4) {
	case 0:
		r.Families = []corev1.IPFamily{"IPv6"}
	case 1:
		r.Families, r.Policy = []corev1.IPFamily{"IPv4", "IPv6"}, corev1.IPFamilyPolicyRequireDualStack
	case 2:
		r.Families, r.Policy = []corev1.IPFamily{"IPv6", "IPv4"}, corev1.IPFamilyPolicyPreferDualStack
	}
	if rng.IntN(3) == 0 {
		x := cands[rng.IntN(len(cands))]
		if slices.Contains(r.Families, family(x.Is4())) || len(r.Families) == 0 && x.Is4() {
			r.Addresses = []netip.Addr{x}
		}
	}
	if rng.IntN(8) == 0 {
		r.Pool = []string{"p1", "p2", "p3"}[rng.IntN(3)]
	}
	return r
}

// TestAllocatorProperties runs random allocate/restore/release sequences
// over small pools and checks after every step that no address is held by
// two Services that may not share it, that the counts add up, that a
// failed step changes nothing, and that a fresh allocation takes the
// lowest free address.
func TestAllocatorProperties(t *testing.T) {
	cands := candidates(t)
	var allocated, failed, shared int // so that the test cannot pass vacuously
	defer func() {
		t.Logf("%d allocations, %d failures, %d steps with a shared address", allocated, failed, shared)
		if allocated < 1000 || failed < 1000 || shared < 100 {
			t.Errorf("the random sequences exercised too little")
		}
	}()
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			a := newTestAllocator(t, propPools)
			reqs := map[string]Request{} // the request each key holds under
			for step := range 400 {
				r := randomRequest(rng, cands)
				before := snapshot(a)
				var err error
				switch op := rng.IntN(10); {
				case op < 6:
					_, held := reqs[r.Key]
					var got Allocation
					got, err = a.Allocate(r)
					if err == nil && !held && len(r.Addresses) == 0 && r.SharingKey == "" {
						checkLowest(t, a, r, got)
					}
					if err == nil {
						if again, err2 := a.Allocate(r); err2 != nil || !cmp.Equal(got, again, cmpNet) {
							t.Fatalf("step %d: repeated Allocate = %v, %v; want %v", step, again, err2, got)
						}
					}
				case op < 8:
					var xs []netip.Addr
					for range 1 + rng.IntN(2) {
						xs = append(xs, cands[rng.IntN(len(cands))])
					}
					_, err = a.Restore(r, xs)
				default:
					if a.Release(r.Key) != (reqs[r.Key].Key != "") {
						t.Fatalf("step %d: Release(%s) result disagrees with the model", step, r.Key)
					}
					delete(reqs, r.Key)
				}
				if err != nil {
					failed++
					var ae *AllocationError
					if !errors.As(err, &ae) {
						t.Fatalf("step %d: error %v is not an *AllocationError", step, err)
					}
					if diff := cmp.Diff(before, snapshot(a), cmpNet); diff != "" {
						t.Fatalf("step %d: failed %+v (%v) changed the state:\n%s", step, r, err, diff)
					}
				} else if al, ok := lookup(a, r.Key); ok {
					reqs[r.Key] = r
					allocated++
					if len(holdersOf(a, al.Addrs[0])) > 1 {
						shared++
					}
				}
				checkInvariants(t, step, a, reqs)
			}
		})
	}
}

func checkInvariants(t *testing.T, step int, a *Allocator, reqs map[string]Request) {
	t.Helper()
	holders := map[netip.Addr][]string{}
	for key, r := range reqs {
		al, ok := lookup(a, key)
		if !ok || len(al.Addrs) == 0 || len(al.Addrs) != len(al.Pools) {
			t.Fatalf("step %d: %s holds %+v", step, key, al)
		}
		if len(al.Addrs) == 2 && al.Addrs[0].Is4() == al.Addrs[1].Is4() {
			t.Fatalf("step %d: %s holds two addresses of one family: %v", step, key, al.Addrs)
		}
		for i, x := range al.Addrs {
			p, s := a.locate(x)
			if s == nil || p.name != al.Pools[i] || !p.allows(r.Namespace) {
				t.Fatalf("step %d: %s holds %s, not in a pool its namespace may use", step, key, x)
			}
			holders[x] = append(holders[x], key)
		}
	}
	used := 0
	for x, keys := range holders {
		used++
		slices.Sort(keys)
		if got := holdersOf(a, x); !slices.Equal(got, keys) {
			t.Fatalf("step %d: Holders(%s) = %v, model %v", step, x, got, keys)
		}
		for i, k := range keys {
			for _, l := range keys[:i] {
				ri, rj := reqs[k], reqs[l]
				if ri.SharingKey == "" || ri.SharingKey != rj.SharingKey || ri.Placement != rj.Placement {
					t.Fatalf("step %d: %s held by %s and %s, which may not share", step, x, k, l)
				}
				for _, p := range ri.Ports {
					if slices.Contains(rj.Ports, p) {
						t.Fatalf("step %d: %s held by %s and %s, both on %s", step, x, k, l, p)
					}
				}
			}
		}
	}
	total := 0
	for _, u := range a.Usage() {
		total += u.Used
	}
	if total != used {
		t.Fatalf("step %d: Usage counts %d addresses in use, holders say %d", step, total, used)
	}
}

// checkLowest: an unshared, unrequested first allocation got, for each
// family, the lowest free address of the first eligible pool with one.
func checkLowest(t *testing.T, a *Allocator, r Request, got Allocation) {
	t.Helper()
	for i, x := range got.Addrs {
		var want netip.Addr
		for _, p := range a.pools {
			if want.IsValid() || !p.allows(r.Namespace) || (r.Pool != "" && p.name != r.Pool) {
				continue
			}
			for _, s := range p.spans {
				for y := s.r.First; !want.IsValid() && y.Is4() == x.Is4() && s.r.Contains(y); y = y.Next() {
					if h := holdersOf(a, y); len(h) == 0 || slices.Equal(h, []string{r.Key}) && y == x {
						want = y
					}
				}
			}
		}
		if x != want {
			t.Fatalf("%s got %s (%s), want the lowest free %s", r.Key, x, got.Pools[i], want)
		}
	}
}
