package guard

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"

	"github.com/vipkeeper/vipkeeper/internal/ether"
)

type classifyCase struct {
	name       string
	frame      []byte
	wantClaim  Claim
	wantReason dropReason
}

// classifyCases covers every rule of classify; the fuzzer uses the frames
// as its seed corpus.
func classifyCases(t testing.TB) []classifyCase {
	zero := ether.ZeroMAC
	bcast := ethernet.Broadcast
	req, rep := arp.OperationRequest, arp.OperationReply
	snm6 := snm(t, vip6)
	probe4 := arpFrame(t, otherMAC, req, otherMAC, unspec4, zero, vip4)
	dad6 := ndpFrame(t, otherMAC, unspec6, snm6, 255, dadNS(vip6))
	ns6 := ndpFrame(t, otherMAC, client6, snm6, 255, dadNS(vip6, slla(otherMAC)))
	nsBody := func(target netip.Addr) []byte { // NS body: reserved, target
		a := target.As16()
		return append(make([]byte, 4), a[:]...)
	}
	nonce := ndp.NewNonce()

	return []classifyCase{
		// ARP (RFC 5227 §2.1.1, §2.3, §2.4)
		{"arp probe from another mac", probe4,
			Claim{vip4, otherMAC, KindProbe}, dropNone},
		{"gratuitous arp request", arpFrame(t, otherMAC, req, otherMAC, vip4, zero, vip4),
			Claim{vip4, otherMAC, KindAnnounce}, dropNone},
		{"gratuitous arp reply", arpFrame(t, otherMAC, rep, otherMAC, vip4, bcast, vip4),
			Claim{vip4, otherMAC, KindAnnounce}, dropNone},
		{"kernel's answer to a probe: unicast reply to 0.0.0.0", arpFrame(t, otherMAC, rep, otherMAC, vip4, ourMAC, unspec4),
			Claim{vip4, otherMAC, KindAnnounce}, dropNone},
		{"arp request sent from the vip", arpFrame(t, otherMAC, req, otherMAC, vip4, zero, client4),
			Claim{vip4, otherMAC, KindAnnounce}, dropNone},
		{"claimant's mac is the arp sender, not the ethernet source", arpFrame(t, thirdMAC, req, otherMAC, vip4, zero, vip4),
			Claim{vip4, otherMAC, KindAnnounce}, dropNone},
		{"client arp request for the vip", arpFrame(t, otherMAC, req, otherMAC, client4, zero, vip4),
			Claim{}, dropNotClaim},
		{"arp reply about the vip from a client", arpFrame(t, otherMAC, rep, otherMAC, client4, ourMAC, vip4),
			Claim{}, dropNotClaim},
		{"arp reply from 0.0.0.0 is not a probe", arpFrame(t, otherMAC, rep, otherMAC, unspec4, zero, vip4),
			Claim{}, dropNotClaim},
		{"our own gratuitous arp", arpFrame(t, ourMAC, req, ourMAC, vip4, zero, vip4),
			Claim{}, dropOwnFrame},
		{"our own arp probe", arpFrame(t, ourMAC, req, ourMAC, unspec4, zero, vip4),
			Claim{}, dropOwnFrame},
		{"arp naming our mac as sender, relayed", arpFrame(t, otherMAC, req, ourMAC, vip4, zero, vip4),
			Claim{}, dropOwnFrame},
		{"gratuitous arp for an unwatched address", arpFrame(t, otherMAC, req, otherMAC, unwatched, zero, unwatched),
			Claim{}, dropNotWatched},
		{"arp probe for an unwatched address", arpFrame(t, otherMAC, req, otherMAC, unspec4, zero, unwatched),
			Claim{}, dropNotWatched},
		{"arp operation 3 (rarp)", arpFrame(t, otherMAC, 3, otherMAC, vip4, zero, vip4),
			Claim{}, dropARPOperation},
		{"arp for ipv6 protocol type", patch(probe4, ethHeaderLen+2, 0x86),
			Claim{}, dropMalformedARP},
		{"arp with hardware type 6", patch(probe4, ethHeaderLen+1, 6),
			Claim{}, dropMalformedARP},
		{"arp with hardware length 8", patch(probe4, ethHeaderLen+4, 8),
			Claim{}, dropMalformedARP},
		{"truncated arp", probe4[:ethHeaderLen+10],
			Claim{}, dropMalformedARP},

		// Ethernet
		{"shorter than an ethernet header", probe4[:13], Claim{}, dropTruncated},
		{"empty", nil, Claim{}, dropTruncated},
		{"ipv4 ethertype", ethFrame(t, otherMAC, bcast, ethernet.EtherTypeIPv4, make([]byte, 46)),
			Claim{}, dropEtherType},
		{"802.1q tagged arp", patch(patch(probe4, 12, 0x81), 13, 0x00),
			Claim{}, dropEtherType},

		// NDP (RFC 4861 §7.1, RFC 4862 §5.4.3, §5.4.4)
		{"dad neighbor solicitation", dad6,
			Claim{vip6, otherMAC, KindProbe}, dropNone},
		{"dad neighbor solicitation with a nonce (as linux sends it)",
			ndpFrame(t, otherMAC, unspec6, snm6, 255, dadNS(vip6, nonce)),
			Claim{vip6, otherMAC, KindProbe}, dropNone},
		{"dad with ethernet padding", append(append([]byte(nil), dad6...), make([]byte, 8)...),
			Claim{vip6, otherMAC, KindProbe}, dropNone},
		{"neighbor solicitation sent from the vip", ndpFrame(t, otherMAC, vip6, snm(t, client6), 255, dadNS(client6, slla(otherMAC))),
			Claim{vip6, otherMAC, KindAnnounce}, dropNone},
		{"client neighbor solicitation for the vip", ns6,
			Claim{}, dropNotClaim},
		{"unsolicited na with override from another mac", ndpFrame(t, otherMAC, vip6, allNodes, 255, na(vip6, tlla(otherMAC))),
			Claim{vip6, otherMAC, KindAnnounce}, dropNone},
		{"na: the target link-layer address names the claimant", ndpFrame(t, thirdMAC, client6, allNodes, 255, na(vip6, tlla(otherMAC))),
			Claim{vip6, otherMAC, KindAnnounce}, dropNone},
		{"na without a target link-layer address: ethernet source", ndpFrame(t, otherMAC, vip6, allNodes, 255, na(vip6)),
			Claim{vip6, otherMAC, KindAnnounce}, dropNone},
		{"solicited na", ndpFrame(t, otherMAC, vip6, client6, 255, &ndp.NeighborAdvertisement{Solicited: true, TargetAddress: vip6, Options: []ndp.Option{tlla(otherMAC)}}),
			Claim{vip6, otherMAC, KindAnnounce}, dropNone},
		{"our own na", ndpFrame(t, ourMAC, vip6, allNodes, 255, na(vip6, tlla(ourMAC))),
			Claim{}, dropOwnFrame},
		{"na naming our mac, relayed", ndpFrame(t, otherMAC, vip6, allNodes, 255, na(vip6, tlla(ourMAC))),
			Claim{}, dropOwnFrame},
		{"our own dad probe", ndpFrame(t, ourMAC, unspec6, snm6, 255, dadNS(vip6)),
			Claim{}, dropOwnFrame},
		{"na for an unwatched target", ndpFrame(t, otherMAC, vip6b, allNodes, 255, na(vip6b, tlla(otherMAC))),
			Claim{}, dropNotWatched},
		{"dad for an unwatched target", ndpFrame(t, otherMAC, unspec6, snm(t, vip6b), 255, dadNS(vip6b)),
			Claim{}, dropNotWatched},
		{"hop limit 64: sent off-link", ndpFrame(t, otherMAC, unspec6, snm6, 64, dadNS(vip6)),
			Claim{}, dropHopLimit},
		{"bad icmpv6 checksum", patch(dad6, len(dad6)-1, dad6[len(dad6)-1]^0xff),
			Claim{}, dropChecksum},
		{"icmpv6 echo request", ipv6Frame(t, otherMAC, client6, vip6, 255, rawICMPv6(128, 0, make([]byte, 4), client6, vip6)),
			Claim{}, dropICMPType},
		{"neighbor solicitation with code 1", ipv6Frame(t, otherMAC, unspec6, snm6, 255, rawICMPv6(135, 1, nsBody(vip6), unspec6, snm6)),
			Claim{}, dropICMPType},
		{"neighbor solicitation with a short body", ipv6Frame(t, otherMAC, unspec6, snm6, 255, rawICMPv6(135, 0, nsBody(vip6)[:12], unspec6, snm6)),
			Claim{}, dropMalformedNDP},
		{"neighbor solicitation with a zero-length option", ipv6Frame(t, otherMAC, unspec6, snm6, 255, rawICMPv6(135, 0, append(nsBody(vip6), 1, 0, 0, 0, 0, 0, 0, 0), unspec6, snm6)),
			Claim{}, dropMalformedNDP},
		{"icmpv6 message shorter than its header", ipv6Frame(t, otherMAC, unspec6, snm6, 255, []byte{135, 0}),
			Claim{}, dropMalformedNDP},
		{"hop-by-hop extension header", patch(dad6, ethHeaderLen+6, 0),
			Claim{}, dropNotICMPv6},
		{"ipv6 payload length beyond the frame", patch(dad6, ethHeaderLen+4, 0xff),
			Claim{}, dropMalformedIP},
		{"ip version 4 in an ipv6 frame", patch(dad6, ethHeaderLen, 0x45),
			Claim{}, dropMalformedIP},
		{"ipv6 header truncated", dad6[:ethHeaderLen+20],
			Claim{}, dropMalformedIP},
	}
}

func TestClassify(t *testing.T) {
	watched := newAddrSet([]netip.Addr{vip4, vip6})
	type result struct {
		Claim  Claim
		Reason dropReason
	}
	for _, tc := range classifyCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			claim, reason := classify(tc.frame, ourMAC, watched)
			want := result{tc.wantClaim, tc.wantReason}
			if diff := cmp.Diff(want, result{claim, reason}, cmpAddr); diff != "" {
				t.Errorf("classify (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClassifyNothingWatched(t *testing.T) {
	for _, tc := range classifyCases(t) {
		if _, reason := classify(tc.frame, ourMAC, nil); reason == dropNone {
			t.Errorf("%s: a claim with nothing watched", tc.name)
		}
	}
}

func TestClassifyDoesNotAliasTheFrame(t *testing.T) {
	watched := newAddrSet([]netip.Addr{vip4, vip6})
	for _, tc := range classifyCases(t) {
		if tc.wantReason != dropNone {
			continue
		}
		frame := append([]byte(nil), tc.frame...)
		claim, _ := classify(frame, ourMAC, watched)
		clear(frame) // the reader reuses its buffer
		if diff := cmp.Diff(tc.wantClaim, claim, cmpAddr); diff != "" {
			t.Errorf("%s: claim changed with the buffer (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestProbeFramesAreClaims(t *testing.T) {
	// Our own probe frames, as another host's guard sees them.
	watched := newAddrSet([]netip.Addr{vip4, vip6})
	f4, err := arpProbeFrame(otherMAC, vip4)
	if err != nil {
		t.Fatal(err)
	}
	f6, dst, err := dadProbeFrame(otherMAC, vip6)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(multicastMAC(snm(t, vip6)), dst); diff != "" {
		t.Errorf("dad destination mac (-want +got):\n%s", diff)
	}
	for name, tc := range map[string]struct {
		frame []byte
		want  Claim
	}{
		"arp": {f4, Claim{vip4, otherMAC, KindProbe}},
		"dad": {f6, Claim{vip6, otherMAC, KindProbe}},
	} {
		claim, reason := classify(tc.frame, ourMAC, watched)
		if reason != dropNone {
			t.Errorf("%s: dropped: %s", name, reason)
		}
		if diff := cmp.Diff(tc.want, claim, cmpAddr); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
		if _, reason := classify(tc.frame, otherMAC, watched); reason != dropOwnFrame {
			t.Errorf("%s: sender's own guard: reason %s, want %s", name, reason, dropOwnFrame)
		}
	}

	// The fields RFC 5227 §2.1.1 and RFC 4862 §5.4.2 prescribe.
	var p arp.Packet
	if err := p.UnmarshalBinary(f4[ethHeaderLen:]); err != nil {
		t.Fatal(err)
	}
	wantARP := arp.Packet{HardwareType: 1, ProtocolType: 0x0800, HardwareAddrLength: 6, IPLength: 4,
		Operation: arp.OperationRequest, SenderHardwareAddr: otherMAC, SenderIP: unspec4,
		TargetHardwareAddr: ether.ZeroMAC, TargetIP: vip4}
	if diff := cmp.Diff(wantARP, p, cmpAddr); diff != "" {
		t.Errorf("arp probe (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]byte(ethernet.Broadcast), f4[:6]); diff != "" {
		t.Errorf("arp probe ethernet destination (-want +got):\n%s", diff)
	}
	ip := f6[ethHeaderLen:]
	if src := netip.AddrFrom16([16]byte(ip[8:24])); src != unspec6 {
		t.Errorf("dad source = %s, want ::", src)
	}
	if d := netip.AddrFrom16([16]byte(ip[24:40])); d != snm(t, vip6) {
		t.Errorf("dad destination = %s, want %s", d, snm(t, vip6))
	}
	m, err := ndp.ParseMessage(ip[ipv6HeaderLen:])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(dadNS(vip6), m, cmpAddr); diff != "" {
		t.Errorf("dad message, which must carry no options (-want +got):\n%s", diff)
	}
}
