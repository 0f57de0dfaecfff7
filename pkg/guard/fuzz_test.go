package guard

import (
	"bytes"
	"net"
	"net/netip"
	"slices"
	"testing"
)

var allDropReasons = []dropReason{
	dropNone, dropTruncated, dropEtherType, dropOwnFrame, dropMalformedARP,
	dropARPOperation, dropMalformedIP, dropNotICMPv6, dropHopLimit,
	dropChecksum, dropICMPType, dropMalformedNDP, dropNotWatched, dropNotClaim,
}

// FuzzClassify feeds arbitrary frames to classify: it must not panic, must
// return a known reason, and a claim must be about a watched address, by
// another MAC, of a kind classify produces, and must not alias the frame.
func FuzzClassify(f *testing.F) {
	for _, tc := range classifyCases(f) {
		f.Add(tc.frame)
	}
	watched := newAddrSet([]netip.Addr{vip4, vip6})
	f.Fuzz(func(t *testing.T, frame []byte) {
		claim, reason := classify(frame, ourMAC, watched)
		if !slices.Contains(allDropReasons, reason) {
			t.Fatalf("unknown reason %q", reason)
		}
		if reason != dropNone {
			if claim.Addr.IsValid() || claim.MAC != nil || claim.Kind != "" {
				t.Fatalf("dropped (%s) with a claim: %+v", reason, claim)
			}
			return
		}
		if !watched.has(claim.Addr) {
			t.Errorf("claim on unwatched %s", claim.Addr)
		}
		if len(claim.MAC) != 6 || bytes.Equal(claim.MAC, ourMAC) {
			t.Errorf("claim MAC %s", claim.MAC)
		}
		if claim.Kind != KindProbe && claim.Kind != KindAnnounce {
			t.Errorf("claim kind %q", claim.Kind)
		}
		mac := bytes.Clone(claim.MAC)
		clear(frame)
		if !bytes.Equal(mac, claim.MAC) {
			t.Errorf("claim MAC aliases the frame")
		}
	})
}

// FuzzProbeFrames checks that any probe we build is, to another host's
// guard, a probe claim by us on that address.
func FuzzProbeFrames(f *testing.F) {
	f.Add([]byte(otherMAC), vip4.AsSlice())
	f.Add([]byte(otherMAC), vip6.AsSlice())
	f.Add([]byte(thirdMAC), netip.MustParseAddr("fe80::1").AsSlice())
	f.Fuzz(func(t *testing.T, mac, ip []byte) {
		a, ok := netip.AddrFromSlice(ip)
		if len(mac) != 6 || !ok || a.IsUnspecified() || bytes.Equal(mac, ourMAC) {
			return
		}
		var frame []byte
		var err error
		if a.Is4() {
			frame, err = arpProbeFrame(mac, a)
		} else {
			frame, _, err = dadProbeFrame(mac, a)
		}
		if err != nil {
			t.Fatalf("build probe for %s: %v", a, err)
		}
		claim, reason := classify(frame, ourMAC, newAddrSet([]netip.Addr{a}))
		if reason != dropNone || claim.Addr != a || !bytes.Equal(claim.MAC, mac) || claim.Kind != KindProbe {
			t.Fatalf("probe for %s from %s: claim %+v, reason %s", a, net.HardwareAddr(mac), claim, reason)
		}
	})
}
