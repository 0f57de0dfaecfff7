package ipam

import (
	"errors"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// FuzzParseRange: no panic; an accepted item is one family, First ≤ Last,
// inside its CIDR, and reads back from its String.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{
		"192.0.2.0/28", "192.0.2.0/31", "2001:db8:1::/120", "198.51.100.10-198.51.100.20",
		"2001:db8::10-2001:db8::1f", "198.51.100.20-198.51.100.10", "1.2.3.4-::1", "0.0.0.0/0", "::/0", "-", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRange(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidPool) {
				t.Fatalf("error %v does not wrap ErrInvalidPool", err)
			}
			return
		}
		if !r.First.IsValid() || r.First.Is4() != r.Last.Is4() || r.Last.Less(r.First) {
			t.Fatalf("ParseRange(%q) = %+v", s, r)
		}
		if r.Prefix.IsValid() && (!r.Prefix.Contains(r.First) || !r.Prefix.Contains(r.Last)) {
			t.Fatalf("ParseRange(%q) = %+v: ends outside the prefix", s, r)
		}
		if !r.Contains(r.First) || !r.Contains(r.Last) {
			t.Fatalf("ParseRange(%q) = %+v does not contain its ends", s, r)
		}
		again, err := ParseRange(r.String())
		if err != nil || again != r {
			t.Fatalf("ParseRange(%q): String %q reads back as %+v, %v", s, r.String(), again, err)
		}
	})
}

// FuzzParsePool: no panic; an accepted pool has a name and addresses and
// every error wraps ErrInvalidPool. New on the result must not panic.
func FuzzParsePool(f *testing.F) {
	for _, s := range []string{
		"pool=blue;addresses=192.0.2.0/28,2001:db8:1::/120",
		"pool=red;cidr=192.0.2.0/28;range=198.51.100.10-198.51.100.20;namespaces=a,b",
		"pool=x;addresses=,", "pool=;;", "=", "pool=a;namespaces=;addresses=1.2.3.4-1.2.3.3",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := ParsePool(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidPool) {
				t.Fatalf("error %v does not wrap ErrInvalidPool", err)
			}
			return
		}
		if spec.Name == "" || len(spec.Addresses) == 0 {
			t.Fatalf("ParsePool(%q) = %+v", s, spec)
		}
		a, err := New([]PoolSpec{spec})
		if err != nil {
			if !errors.Is(err, ErrInvalidPool) {
				t.Fatalf("New: %v does not wrap ErrInvalidPool", err)
			}
			return
		}
		// A valid pool hands out an address of its lowest item's family
		// to a namespace it allows.
		ns := "default"
		if len(spec.Namespaces) > 0 {
			ns = spec.Namespaces[0]
		}
		fam := family(a.pools[0].spans[0].r.First.Is4())
		if _, err := a.Allocate(Request{Key: ns + "/x", Namespace: ns, Families: []corev1.IPFamily{fam}}); err != nil {
			t.Fatalf("first Allocate from %+v: %v", spec, err)
		}
	})
}

// FuzzParseAddresses: no panic; accepted addresses are plain and at most
// one per family; errors wrap ErrInvalidRequest.
func FuzzParseAddresses(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "2001:db8::1, 192.0.2.1", "192.0.2.1,192.0.2.2", ",", "fe80::1%eth0", "::ffff:1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addrs, err := ParseAddresses(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("error %v does not wrap ErrInvalidRequest", err)
			}
			return
		}
		if len(addrs) > 2 || (len(addrs) == 2 && addrs[0].Is4() == addrs[1].Is4()) {
			t.Fatalf("ParseAddresses(%q) = %v", s, addrs)
		}
		for _, a := range addrs {
			if !a.IsValid() || a.Zone() != "" || a.Is4In6() || a != netip.MustParseAddr(a.String()) {
				t.Fatalf("ParseAddresses(%q) gave %v", s, a)
			}
		}
	})
}
