package ipam

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// cmpNet compares netip values, whose fields are unexported.
var cmpNet = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

var (
	mustAddr   = netip.MustParseAddr
	mustPrefix = netip.MustParsePrefix
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		in      string
		want    Range
		wantErr string // substring; "" means success
	}{
		{in: "192.0.2.0/28", want: Range{First: mustAddr("192.0.2.1"), Last: mustAddr("192.0.2.14"), Prefix: mustPrefix("192.0.2.0/28")}},
		{in: "192.0.2.0/31", want: Range{First: mustAddr("192.0.2.0"), Last: mustAddr("192.0.2.1"), Prefix: mustPrefix("192.0.2.0/31")}},
		{in: "192.0.2.7/32", want: Range{First: mustAddr("192.0.2.7"), Last: mustAddr("192.0.2.7"), Prefix: mustPrefix("192.0.2.7/32")}},
		{in: "2001:db8:1::/120", want: Range{First: mustAddr("2001:db8:1::"), Last: mustAddr("2001:db8:1::ff"), Prefix: mustPrefix("2001:db8:1::/120")}},
		{in: "2001:db8::/64", want: Range{First: mustAddr("2001:db8::"), Last: mustAddr("2001:db8::ffff:ffff:ffff:ffff"), Prefix: mustPrefix("2001:db8::/64")}},
		{in: "198.51.100.10-198.51.100.20", want: Range{First: mustAddr("198.51.100.10"), Last: mustAddr("198.51.100.20")}},
		{in: "198.51.100.10 - 198.51.100.10", want: Range{First: mustAddr("198.51.100.10"), Last: mustAddr("198.51.100.10")}},
		{in: "2001:db8::10-2001:db8::1f", want: Range{First: mustAddr("2001:db8::10"), Last: mustAddr("2001:db8::1f")}},
		{in: "", wantErr: "empty address item"},
		{in: "198.51.100.20-198.51.100.10", wantErr: "reversed"},
		{in: "198.51.100.10-2001:db8::1", wantErr: "mixes IPv4 and IPv6"},
		{in: "198.51.100.10-", wantErr: `bad address ""`},
		{in: "-198.51.100.10", wantErr: `bad address ""`},
		{in: "192.0.2.5/28", wantErr: "host bits set (did you mean 192.0.2.0/28?)"},
		{in: "192.0.2.0/33", wantErr: "neither a CIDR"},
		{in: "fe80::1%eth0-fe80::2%eth0", wantErr: "zoned address"},
		{in: "::ffff:192.0.2.1-::ffff:192.0.2.9", wantErr: "IPv4-mapped"},
		{in: "::ffff:192.0.2.0/120", wantErr: "IPv4-mapped"},
		{in: "banana", wantErr: "neither a CIDR"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRange(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalidPool) {
					t.Fatalf("ParseRange(%q) = %v, %v; want error containing %q wrapping ErrInvalidPool", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRange(%q): %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got, cmpNet); diff != "" {
				t.Errorf("ParseRange(%q) (-want +got):\n%s", tc.in, diff)
			}
			again, err := ParseRange(got.String())
			if err != nil || again != got {
				t.Errorf("ParseRange(%q.String() = %q) = %v, %v; want the same range", tc.in, got.String(), again, err)
			}
		})
	}
}

func TestParsePool(t *testing.T) {
	tests := []struct {
		in      string
		want    PoolSpec
		wantErr string
	}{
		{
			in:   "pool=blue;addresses=192.0.2.0/28,2001:db8:1::/120",
			want: PoolSpec{Name: "blue", Addresses: []string{"192.0.2.0/28", "2001:db8:1::/120"}},
		},
		{
			in: " pool = red ; cidr=192.0.2.0/28 ; range = 198.51.100.10-198.51.100.20 ; namespaces = a, b ;",
			want: PoolSpec{Name: "red", Addresses: []string{"192.0.2.0/28", "198.51.100.10-198.51.100.20"},
				Namespaces: []string{"a", "b"}},
		},
		{in: "addresses=192.0.2.0/28", wantErr: "missing pool=NAME"},
		{in: "pool=blue", wantErr: "missing addresses"},
		{in: "pool=blue;pool=red;addresses=192.0.2.0/28", wantErr: "pool given twice"},
		{in: "pool=blue;addresses=192.0.2.0/28;namespaces=a;namespaces=b", wantErr: "namespaces given twice"},
		{in: "pool=blue;addresses=192.0.2.0/28;color=red", wantErr: `unknown key "color"`},
		{in: "pool=blue;192.0.2.0/28", wantErr: `field "192.0.2.0/28" is not KEY=VALUE`},
		{in: "pool=blue;addresses=", wantErr: "addresses is empty"},
		{in: "", wantErr: "missing pool=NAME"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePool(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalidPool) {
					t.Fatalf("ParsePool(%q) = %+v, %v; want error containing %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePool(%q): %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParsePool(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	blue := func(addrs ...string) PoolSpec { return PoolSpec{Name: "blue", Addresses: addrs} }
	tests := []struct {
		name    string
		specs   []PoolSpec
		wantErr string
	}{
		{"no pools", nil, "no address pools"},
		{"bad name", []PoolSpec{{Name: "Blue!", Addresses: []string{"192.0.2.0/28"}}}, `pool "Blue!": bad name`},
		{"duplicate name", []PoolSpec{blue("192.0.2.0/28"), blue("198.51.100.0/28")}, `pool "blue" defined twice`},
		{"no addresses", []PoolSpec{blue()}, `pool "blue" has no addresses`},
		{"bad item named", []PoolSpec{blue("192.0.2.0/28", "198.51.100.20-198.51.100.10")}, `pool "blue": range "198.51.100.20-198.51.100.10" is reversed`},
		{"empty item", []PoolSpec{blue("192.0.2.0/28", "")}, `pool "blue": empty address item`},
		{"bad namespace", []PoolSpec{{Name: "blue", Addresses: []string{"192.0.2.0/28"}, Namespaces: []string{"Team A"}}}, `pool "blue": namespace "Team A"`},
		{"overlap within", []PoolSpec{blue("192.0.2.0/28", "192.0.2.8-192.0.2.9")}, `pool "blue": 192.0.2.8-192.0.2.9 overlaps 192.0.2.0/28 of pool "blue"`},
		{"overlap across", []PoolSpec{blue("192.0.2.0/24"), {Name: "red", Addresses: []string{"192.0.2.128/25"}}}, `pool "red": 192.0.2.128/25 overlaps 192.0.2.0/24 of pool "blue"`},
		{"overlap on broadcast", []PoolSpec{blue("192.0.2.0/28"), {Name: "red", Addresses: []string{"192.0.2.15-192.0.2.20"}}}, `overlaps 192.0.2.0/28`},
		{"overlap behind a long range", []PoolSpec{blue("2001:db8::/64", "2001:db8:1::/64"), {Name: "red", Addresses: []string{"2001:db8::ff-2001:db8::1ff"}}}, `2001:db8::ff-2001:db8::1ff overlaps 2001:db8::/64`},
		{"nested after a wide range", []PoolSpec{blue("192.0.2.0/24", "192.0.2.100-192.0.2.100"), {Name: "red", Addresses: []string{"192.0.2.200-192.0.2.201"}}}, `overlaps 192.0.2.0/24`},
		{"loopback", []PoolSpec{blue("127.0.0.0/30")}, "overlaps loopback block 127.0.0.0/8"},
		{"multicast", []PoolSpec{blue("223.255.255.250-224.0.0.5")}, "multicast"},
		{"link-local v6", []PoolSpec{blue("fe80::/120")}, "link-local"},
		{"unspecified", []PoolSpec{blue("::/126")}, "unspecified"},
		{"spans IPv4-mapped", []PoolSpec{blue("::fffe:ffff:ffff-::1:0:0:0")}, "IPv4-mapped block ::ffff:0.0.0.0/96"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.specs)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalidPool) {
				t.Fatalf("New = %v; want error containing %q wrapping ErrInvalidPool", err, tc.wantErr)
			}
		})
	}
}

func TestNewAccepts(t *testing.T) {
	a, err := New([]PoolSpec{
		{Name: "blue", Addresses: []string{"192.0.2.0/28", "2001:db8:1::/120", "198.51.100.10-198.51.100.20"}},
		{Name: "red", Addresses: []string{"192.0.2.16/28", "2001:db8::/64"}, Namespaces: []string{"team-a"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []PoolUsage{
		{Pool: "blue", Family: "IPv4", Size: 14 + 11},
		{Pool: "blue", Family: "IPv6", Size: 256},
		{Pool: "red", Family: "IPv4", Size: 14},
		{Pool: "red", Family: "IPv6", Size: 1 << 64},
	}
	if diff := cmp.Diff(want, a.Usage()); diff != "" {
		t.Errorf("Usage (-want +got):\n%s", diff)
	}
}
