//go:build linux

package vip

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestForeignAddrs: the interface's own addresses are listed with their
// prefix lengths; an address carrying Protocol (a crashed run's leftover)
// is not.
func TestForeignAddrs(t *testing.T) {
	ns, dev := testNetns(t)
	k := kernel{ns: ns.Handle()}
	ns.IP(t, "addr", "add", "192.0.2.10/24", "dev", dev)
	ns.IP(t, "addr", "add", "2001:db8::10/64", "dev", dev, "nodad")
	index, _, err := k.AddrList(dev)
	if err != nil {
		t.Fatal(err)
	}
	leftover := kernelAddr{Prefix: netip.MustParsePrefix("192.0.2.100/32"), Proto: Protocol, PreferredLft: 0, ValidLft: infiniteLifetime}
	if err := k.AddrAdd(index, leftover); err != nil {
		t.Fatal(err)
	}
	got, err := foreignAddrs(k, dev)
	if err != nil {
		t.Fatal(err)
	}
	var global []netip.Prefix
	for _, p := range got {
		if !p.Addr().IsLinkLocalUnicast() {
			global = append(global, p)
		}
	}
	want := []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24"), netip.MustParsePrefix("2001:db8::10/64")}
	if diff := cmp.Diff(want, global, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("foreignAddrs (-want +got):\n%s", diff)
	}
	if _, err := foreignAddrs(k, "nosuch0"); !errors.Is(err, ErrInterfaceNotFound) {
		t.Errorf("missing interface: %v, want ErrInterfaceNotFound", err)
	}
}
