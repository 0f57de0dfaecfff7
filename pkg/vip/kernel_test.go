package vip

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// body serialises an address message as the kernel would see it, without the
// netlink header.
func body(index int, a kernelAddr, full bool) []byte {
	req := nl.NewNetlinkRequest(unix.RTM_NEWADDR, 0)
	for _, d := range addrMsg(index, a, full) {
		req.AddData(d)
	}
	return req.Serialize()[unix.SizeofNlMsghdr:]
}

func TestAddrMsgRoundTrip(t *testing.T) {
	for _, want := range []kernelAddr{vipAddr(a4), vipAddr(a6), foreign(c4, 24, 0)} {
		index, got, err := parseAddr(body(testIndex, want, true))
		if err != nil {
			t.Fatalf("parseAddr(%v): %v", want.Prefix, err)
		}
		if index != testIndex {
			t.Errorf("parseAddr(%v) index = %d, want %d", want.Prefix, index, testIndex)
		}
		if diff := cmp.Diff(want, got, opts...); diff != "" {
			t.Errorf("parseAddr(addrMsg(%v)) (-want +got):\n%s", want.Prefix, diff)
		}
	}
}

func TestParseAddrErrors(t *testing.T) {
	good := body(testIndex, vipAddr(a4), true)
	noAddr := body(testIndex, vipAddr(a4), true)[:unix.SizeofIfAddrmsg]
	badPrefix := append([]byte(nil), good...)
	badPrefix[1] = 33 // ifa_prefixlen
	for name, m := range map[string][]byte{
		"short":       good[:3],
		"no address":  noAddr,
		"bad prefix":  badPrefix,
		"cut in attr": good[:unix.SizeofIfAddrmsg+2],
	} {
		if _, _, err := parseAddr(m); err == nil {
			t.Errorf("parseAddr(%s) = nil error, want one", name)
		}
	}
}

func FuzzParseAddr(f *testing.F) {
	f.Add(body(testIndex, vipAddr(a4), true))
	f.Add(body(testIndex, vipAddr(a6), true))
	f.Add(body(testIndex, vipAddr(a6), false))
	f.Fuzz(func(t *testing.T, m []byte) {
		index, a, err := parseAddr(m)
		if err != nil {
			return
		}
		if !a.Prefix.IsValid() {
			t.Fatalf("parseAddr returned invalid prefix %v without error", a.Prefix)
		}
		// What parses must survive a round trip of its address fields.
		_, again, err := parseAddr(body(index, a, true))
		if err != nil || again.Prefix != netip.PrefixFrom(a.Prefix.Addr(), a.Prefix.Bits()) {
			t.Fatalf("round trip of %+v: %+v, %v", a, again, err)
		}
	})
}
