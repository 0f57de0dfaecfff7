package ipam

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

// testPools: blue has 192.0.2.1–.6 and 2001:db8:1::–::3; red has two
// IPv4 addresses for namespace team-a only.
var testPools = []PoolSpec{
	{Name: "blue", Addresses: []string{"192.0.2.0/29", "2001:db8:1::/126"}},
	{Name: "red", Addresses: []string{"198.51.100.10-198.51.100.11"}, Namespaces: []string{"team-a"}},
}

func newTestAllocator(t *testing.T, specs []PoolSpec) *Allocator {
	t.Helper()
	a, err := New(specs)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// svc is a request for default/NAME on TCP/80 unless changed by opts.
func svc(name string, opts ...func(*Request)) Request {
	r := Request{Key: "default/" + name, Namespace: "default", Ports: []Port{{"TCP", 80}}}
	for _, o := range opts {
		o(&r)
	}
	return r
}

func inNS(ns string) func(*Request) {
	return func(r *Request) { r.Namespace, r.Key = ns, ns+r.Key[len("default"):] }
}
func wantIP(s ...string) func(*Request) {
	return func(r *Request) {
		for _, a := range s {
			r.Addresses = append(r.Addresses, mustAddr(a))
		}
	}
}
func shareKey(k string) func(*Request) { return func(r *Request) { r.SharingKey = k } }
func place(p string) func(*Request)    { return func(r *Request) { r.Placement = p } }
func fromPool(p string) func(*Request) { return func(r *Request) { r.Pool = p } }
func ports(p ...Port) func(*Request)   { return func(r *Request) { r.Ports = p } }
func policy(p string) func(*Request)   { return func(r *Request) { r.Policy = corev1.IPFamilyPolicy(p) } }
func families(f ...string) func(*Request) {
	return func(r *Request) {
		r.Families = nil
		for _, x := range f {
			r.Families = append(r.Families, corev1.IPFamily(x))
		}
	}
}

func alloc(key string, pools []string, addrs ...string) Allocation {
	al := Allocation{Key: key, Pools: pools}
	for _, a := range addrs {
		al.Addrs = append(al.Addrs, mustAddr(a))
	}
	return al
}

func fill(prefix string, n int, opts ...func(*Request)) []Request {
	var rs []Request
	for i := range n {
		rs = append(rs, svc(fmt.Sprintf("%s%d", prefix, i), opts...))
	}
	return rs
}

func TestAllocate(t *testing.T) {
	dual := []func(*Request){families("IPv4", "IPv6"), policy("RequireDualStack")}
	tests := []struct {
		name       string
		before     []Request
		req        Request
		want       Allocation
		wantErr    error
		wantReason string
	}{
		{name: "first address", req: svc("a"), want: alloc("default/a", []string{"blue"}, "192.0.2.1")},
		{name: "lowest free", before: fill("x", 2), req: svc("a"), want: alloc("default/a", []string{"blue"}, "192.0.2.3")},
		{name: "requested", req: svc("a", wantIP("192.0.2.5")), want: alloc("default/a", []string{"blue"}, "192.0.2.5")},
		{name: "requested skipped by next", before: []Request{svc("x", wantIP("192.0.2.1"))}, req: svc("a"),
			want: alloc("default/a", []string{"blue"}, "192.0.2.2")},
		{name: "requested in use", before: []Request{svc("web")}, req: svc("a", wantIP("192.0.2.1")),
			wantErr: ErrAddressInUse, wantReason: "192.0.2.1 is already used by default/web and they do not share a key"},
		{name: "only one side has a key", before: []Request{svc("web")}, req: svc("a", wantIP("192.0.2.1"), shareKey("k")),
			wantErr: ErrAddressInUse, wantReason: "192.0.2.1 is already used by default/web and they do not share a key"},
		{name: "different keys", before: []Request{svc("web", shareKey("k1"))}, req: svc("a", wantIP("192.0.2.1"), shareKey("k2")),
			wantErr: ErrAddressInUse, wantReason: "192.0.2.1 is already used by default/web and they do not share a key"},
		{name: "shared by request", before: []Request{svc("web", shareKey("k"))},
			req: svc("dns", wantIP("192.0.2.1"), shareKey("k"), ports(Port{"UDP", 53})), want: alloc("default/dns", []string{"blue"}, "192.0.2.1")},
		{name: "shared without request joins the lowest shareable", before: append(fill("x", 2), svc("web", shareKey("k"))),
			req: svc("dns", shareKey("k"), ports(Port{"UDP", 53})), want: alloc("default/dns", []string{"blue"}, "192.0.2.3")},
		{name: "same port on other protocol shares", before: []Request{svc("web", shareKey("k"))},
			req: svc("a", shareKey("k"), ports(Port{"UDP", 80})), want: alloc("default/a", []string{"blue"}, "192.0.2.1")},
		{name: "port conflict", before: []Request{svc("web", shareKey("k"), ports(Port{"TCP", 443}, Port{"TCP", 80}))},
			req:     svc("a", wantIP("192.0.2.1"), shareKey("k"), ports(Port{"", 80})),
			wantErr: ErrPortConflict, wantReason: "192.0.2.1 is shared with default/web, which already uses TCP/80"},
		{name: "port conflict without request takes a free address", before: []Request{svc("web", shareKey("k"))},
			req: svc("a", shareKey("k")), want: alloc("default/a", []string{"blue"}, "192.0.2.2")},
		{name: "placement conflict", before: []Request{svc("web", shareKey("k"), place("local:app=web"))},
			req: svc("a", wantIP("192.0.2.1"), shareKey("k"), ports(Port{"TCP", 81})), wantErr: ErrPlacementConflict,
			wantReason: "192.0.2.1 is shared with default/web, which must be announced from other nodes (externalTrafficPolicy or selector differ)"},
		{name: "not in pool", req: svc("a", wantIP("203.0.113.1")), wantErr: ErrNotInPool, wantReason: "203.0.113.1 is not in any address pool"},
		{name: "network address", req: svc("a", wantIP("192.0.2.0")), wantErr: ErrNotInPool,
			wantReason: `192.0.2.0 is the network or broadcast address of 192.0.2.0/29 in pool "blue" and is never handed out`},
		{name: "broadcast address", req: svc("a", wantIP("192.0.2.7")), wantErr: ErrNotInPool,
			wantReason: `192.0.2.7 is the network or broadcast address of 192.0.2.0/29 in pool "blue" and is never handed out`},
		{name: "not in requested pool", req: svc("a", wantIP("192.0.2.1"), fromPool("red"), inNS("team-a")), wantErr: ErrNotInPool,
			wantReason: `192.0.2.1 is in pool "blue", not in the requested pool "red"`},
		{name: "namespace not allowed address", req: svc("a", wantIP("198.51.100.10")), wantErr: ErrPoolNotAllowed,
			wantReason: `198.51.100.10 is in pool "red", which namespace "default" may not use`},
		{name: "namespace not allowed pool", req: svc("a", fromPool("red")), wantErr: ErrPoolNotAllowed,
			wantReason: `address pool "red" may not be used by namespace "default"`},
		{name: "unknown pool", req: svc("a", fromPool("green")), wantErr: ErrUnknownPool, wantReason: `no address pool is named "green"`},
		{name: "configuration order", req: svc("a", inNS("team-a")), want: alloc("team-a/a", []string{"blue"}, "192.0.2.1")},
		{name: "requested pool", req: svc("a", inNS("team-a"), fromPool("red")), want: alloc("team-a/a", []string{"red"}, "198.51.100.10")},
		{name: "spill to the next pool", before: fill("x", 6), req: svc("a", inNS("team-a")), want: alloc("team-a/a", []string{"red"}, "198.51.100.10")},
		{name: "exhausted", before: fill("x", 6), req: svc("a"), wantErr: ErrPoolExhausted, wantReason: `no free IPv4 address left in pool "blue"`},
		{name: "exhausted two pools", before: append(fill("x", 6), fill("y", 2, inNS("team-a"))...), req: svc("a", inNS("team-a"), shareKey("k")),
			wantErr: ErrPoolExhausted, wantReason: `no free or shareable IPv4 address left in pool "blue", "red"`},
		{name: "family unavailable", req: svc("a", inNS("team-a"), fromPool("red"), families("IPv6")), wantErr: ErrFamilyUnavailable,
			wantReason: `no address pool offers IPv6 addresses to namespace "team-a"`},
		{name: "IPv6 single stack", req: svc("a", families("IPv6")), want: alloc("default/a", []string{"blue"}, "2001:db8:1::")},
		{name: "family from the requested address", req: svc("a", wantIP("2001:db8:1::2")), want: alloc("default/a", []string{"blue"}, "2001:db8:1::2")},
		{name: "single stack takes the primary family", req: svc("a", families("IPv6", "IPv4")), want: alloc("default/a", []string{"blue"}, "2001:db8:1::")},
		{name: "require dual stack", req: svc("a", dual...), want: alloc("default/a", []string{"blue", "blue"}, "192.0.2.1", "2001:db8:1::")},
		{name: "require dual stack, IPv6 primary, one requested", req: svc("a", families("IPv6", "IPv4"), policy("RequireDualStack"), wantIP("192.0.2.4")),
			want: alloc("default/a", []string{"blue", "blue"}, "2001:db8:1::", "192.0.2.4")},
		{name: "require dual stack, one family exhausted", before: fill("x", 4, families("IPv6")), req: svc("a", dual...),
			wantErr: ErrPoolExhausted, wantReason: `no free IPv6 address left in pool "blue"`},
		{name: "require dual stack, one family missing", req: svc("a", append(dual, fromPool("red"), inNS("team-a"))...),
			wantErr: ErrFamilyUnavailable, wantReason: `no address pool offers IPv6 addresses to namespace "team-a"`},
		{name: "require dual stack, requested address taken", before: []Request{svc("web", families("IPv6"))},
			req: svc("a", append(dual, wantIP("2001:db8:1::"))...), wantErr: ErrAddressInUse,
			wantReason: "2001:db8:1:: is already used by default/web and they do not share a key"},
		{name: "prefer dual stack", req: svc("a", families("IPv4", "IPv6"), policy("PreferDualStack")),
			want: alloc("default/a", []string{"blue", "blue"}, "192.0.2.1", "2001:db8:1::")},
		{name: "prefer dual stack, secondary exhausted", before: fill("x", 4, families("IPv6")), req: svc("a", families("IPv4", "IPv6"), policy("PreferDualStack")),
			want: alloc("default/a", []string{"blue"}, "192.0.2.1")},
		{name: "prefer dual stack, primary exhausted", before: fill("x", 6), req: svc("a", families("IPv4", "IPv6"), policy("PreferDualStack")),
			wantErr: ErrPoolExhausted, wantReason: `no free IPv4 address left in pool "blue"`},
		{name: "require dual stack with one family", req: svc("a", families("IPv4"), policy("RequireDualStack")), wantErr: ErrInvalidRequest,
			wantReason: "ipFamilyPolicy RequireDualStack needs two ipFamilies, got [IPv4]"},
		{name: "requested family not used", req: svc("a", families("IPv4"), wantIP("2001:db8:1::1")), wantErr: ErrInvalidRequest,
			wantReason: "requested address 2001:db8:1::1 is IPv6, but the Service uses IPv4 only"},
		{name: "two requested of one family", req: svc("a", wantIP("192.0.2.1", "192.0.2.2")), wantErr: ErrInvalidRequest,
			wantReason: "192.0.2.1 and 192.0.2.2 are of the same family; request at most one address per family"},
		{name: "bad family", req: svc("a", families("IPv5")), wantErr: ErrInvalidRequest, wantReason: `unknown IP family "IPv5"`},
		{name: "bad policy", req: svc("a", policy("Both")), wantErr: ErrInvalidRequest, wantReason: `unknown ipFamilyPolicy "Both"`},
		{name: "bad port", req: svc("a", ports(Port{"TCP", 0})), wantErr: ErrInvalidRequest, wantReason: "port TCP/0 is out of range"},
		{name: "bad protocol", req: svc("a", ports(Port{"ICMP", 1})), wantErr: ErrInvalidRequest, wantReason: "port ICMP/1: unknown protocol"},
		{name: "no key", req: Request{Namespace: "default"}, wantErr: ErrInvalidRequest, wantReason: "request has no Service key or namespace"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestAllocator(t, testPools)
			for _, r := range tc.before {
				if _, err := a.Allocate(r); err != nil {
					t.Fatalf("setup Allocate(%s): %v", r.Key, err)
				}
			}
			before := snapshot(a)
			got, err := a.Allocate(tc.req)
			if tc.wantErr != nil {
				var ae *AllocationError
				if !errors.Is(err, tc.wantErr) || !errors.As(err, &ae) || err.Error() != tc.wantReason {
					t.Fatalf("Allocate = %+v, %v; want %v with reason %q", got, err, tc.wantErr, tc.wantReason)
				}
				if diff := cmp.Diff(before, snapshot(a), cmpNet); diff != "" {
					t.Errorf("failed Allocate changed the state (-before +after):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("Allocate: %v", err)
			}
			if diff := cmp.Diff(tc.want, got, cmpNet); diff != "" {
				t.Errorf("Allocate (-want +got):\n%s", diff)
			}
			again, err := a.Allocate(tc.req)
			if err != nil || !cmp.Equal(got, again, cmpNet) {
				t.Errorf("repeated Allocate = %+v, %v; want %+v", again, err, got)
			}
		})
	}
}

// lookup returns what key holds.
func lookup(a *Allocator, key string) (Allocation, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.keys[key]
	if e == nil {
		return Allocation{}, false
	}
	return e.allocation(), true
}

// holdersOf returns the keys of the Services holding x, sorted.
func holdersOf(a *Allocator, x netip.Addr) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var keys []string
	if c := a.inUse[x]; c != nil {
		for _, h := range c.holders {
			keys = append(keys, h.key)
		}
	}
	return keys
}

// state is everything observable about an Allocator.
type state struct {
	Keys    map[string]Allocation
	Holders map[netip.Addr][]string
	Usage   []PoolUsage
}

func snapshot(a *Allocator) state {
	s := state{Keys: map[string]Allocation{}, Holders: map[netip.Addr][]string{}, Usage: a.Usage()}
	a.mu.Lock()
	var keys []string
	for k := range a.keys {
		keys = append(keys, k)
	}
	a.mu.Unlock()
	for _, k := range keys {
		al, _ := lookup(a, k)
		s.Keys[k] = al
		for _, x := range al.Addrs {
			s.Holders[x] = holdersOf(a, x)
		}
	}
	return s
}

// TestManualPool: a pool with autoAssign off serves only Services that ask
// for it by name or by address; the others skip it, in any position.
func TestManualPool(t *testing.T) {
	for _, order := range [][]PoolSpec{
		{{Name: "manual", Addresses: []string{"203.0.113.128/30"}, Manual: true}, {Name: "auto", Addresses: []string{"203.0.113.136/30"}}},
		{{Name: "auto", Addresses: []string{"203.0.113.136/30"}}, {Name: "manual", Addresses: []string{"203.0.113.128/30"}, Manual: true}},
	} {
		a := newTestAllocator(t, order)
		for _, tc := range []struct {
			req  Request
			want string
		}{
			{svc("plain"), "203.0.113.137"},
			{svc("named", fromPool("manual")), "203.0.113.129"},
			{svc("address", wantIP("203.0.113.130")), "203.0.113.130"},
		} {
			got, err := a.Allocate(tc.req)
			if err != nil {
				t.Fatalf("%s: %v", tc.req.Key, err)
			}
			if diff := cmp.Diff([]netip.Addr{mustAddr(tc.want)}, got.Addrs, cmpNet); diff != "" {
				t.Errorf("pools %s first, %s (-want +got):\n%s", order[0].Name, tc.req.Key, diff)
			}
		}
	}
	// Only a manual pool: a Service that does not ask finds no pool.
	a := newTestAllocator(t, []PoolSpec{{Name: "manual", Addresses: []string{"203.0.113.128/30"}, Manual: true}})
	if _, err := a.Allocate(svc("plain")); !errors.Is(err, ErrFamilyUnavailable) {
		t.Errorf("only a manual pool: err %v; want ErrFamilyUnavailable", err)
	}
}
