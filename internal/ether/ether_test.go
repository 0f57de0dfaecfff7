package ether

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var (
	cmpAddr = cmpopts.EquateComparable(netip.Addr{})
	mac     = net.HardwareAddr{0x02, 0, 0x5e, 0x10, 0, 1}
	mac2    = net.HardwareAddr{0x02, 0, 0x5e, 0x10, 0, 2}
)

func TestLink(t *testing.T) {
	errLookup := errors.New("no such network interface")
	tests := map[string]struct {
		ifi     *net.Interface
		err     error
		want    *net.Interface
		wantErr error
	}{
		"ethernet":        {ifi: &net.Interface{Index: 2, Name: "vk0", HardwareAddr: mac}, want: &net.Interface{Index: 2, Name: "vk0", HardwareAddr: mac}},
		"lookup fails":    {err: errLookup, wantErr: errLookup},
		"no address":      {ifi: &net.Interface{Index: 2, Name: "vk0"}, wantErr: ErrNoHardwareAddr},
		"20-byte address": {ifi: &net.Interface{Index: 2, Name: "vk0", HardwareAddr: make(net.HardwareAddr, 20)}, wantErr: ErrNoHardwareAddr},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var asked string
			got, err := Link(func(n string) (*net.Interface, error) { asked = n; return tt.ifi, tt.err }, "vk0")
			if asked != "vk0" {
				t.Errorf("looked up %q, want vk0", asked)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Link() error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Link() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSame(t *testing.T) {
	a := &net.Interface{Index: 2, Name: "vk0", HardwareAddr: mac}
	tests := map[string]struct {
		a, b *net.Interface
		want bool
	}{
		"same":            {a, &net.Interface{Index: 2, Name: "vk0", HardwareAddr: mac}, true},
		"renamed":         {a, &net.Interface{Index: 2, Name: "vk1", HardwareAddr: mac}, true},
		"re-created":      {a, &net.Interface{Index: 3, Name: "vk0", HardwareAddr: mac}, false},
		"new mac":         {a, &net.Interface{Index: 2, Name: "vk0", HardwareAddr: mac2}, false},
		"nil":             {a, nil, false},
		"both nil":        {nil, nil, false},
		"nil and unknown": {nil, a, false},
	}
	for name, tt := range tests {
		if got := Same(tt.a, tt.b); got != tt.want {
			t.Errorf("%s: Same() = %v, want %v", name, got, tt.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	p := netip.MustParseAddr
	tests := map[string]struct {
		in, want, wantIgnored []netip.Addr
	}{
		"empty": {},
		"order kept, duplicates dropped": {
			in:   []netip.Addr{p("192.0.2.2"), p("2001:db8::1"), p("192.0.2.1"), p("192.0.2.2")},
			want: []netip.Addr{p("192.0.2.2"), p("2001:db8::1"), p("192.0.2.1")},
		},
		"mapped and zoned are canonical": {
			in:   []netip.Addr{p("::ffff:192.0.2.1"), p("192.0.2.1"), p("fe80::1%vk0"), p("fe80::1")},
			want: []netip.Addr{p("192.0.2.1"), p("fe80::1")},
		},
		"unusable ignored": {
			in:          []netip.Addr{{}, p("0.0.0.0"), p("::"), p("224.0.0.1"), p("ff02::1"), p("198.51.100.1")},
			want:        []netip.Addr{p("198.51.100.1")},
			wantIgnored: []netip.Addr{{}, p("0.0.0.0"), p("::"), p("224.0.0.1"), p("ff02::1")},
		},
		"mapped unspecified is ignored as ipv4": {
			in:          []netip.Addr{p("::ffff:0.0.0.0")},
			want:        []netip.Addr{},
			wantIgnored: []netip.Addr{p("0.0.0.0")},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, ignored := Normalize(tt.in)
			if diff := cmp.Diff(tt.want, got, cmpAddr, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("set (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantIgnored, ignored, cmpAddr, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ignored (-want +got):\n%s", diff)
			}
		})
	}
}
