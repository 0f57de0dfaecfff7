package health

import (
	"net"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const upFlags = unix.IFF_UP | unix.IFF_LOWER_UP | unix.IFF_RUNNING

func attrs(name string, index int, raw uint32, oper netlink.LinkOperState) netlink.LinkAttrs {
	a := netlink.LinkAttrs{Name: name, Index: index, RawFlags: raw, OperState: oper}
	if raw&unix.IFF_UP != 0 {
		a.Flags |= net.FlagUp
	}
	return a
}

func TestStateOf(t *testing.T) {
	tests := []struct {
		name string
		a    netlink.LinkAttrs
		want linkState
	}{
		{"up", attrs("eth0", 2, upFlags, netlink.OperUp), linkState{up: true}},
		{"unknown oper state with carrier", attrs("eth0", 2, upFlags, netlink.OperUnknown), linkState{up: true}},
		{"admin down", attrs("eth0", 2, 0, netlink.OperDown), linkState{detail: "administratively down"}},
		{"no carrier", attrs("eth0", 2, unix.IFF_UP, netlink.OperLowerLayerDown), linkState{detail: "no carrier"}},
		{"oper down with lower up", attrs("eth0", 2, upFlags, netlink.OperDown), linkState{detail: "oper state down"}},
		{"dormant", attrs("eth0", 2, upFlags, netlink.OperDormant), linkState{detail: "oper state dormant"}},
	}
	for _, tt := range tests {
		if got := stateOf(&tt.a); got != tt.want {
			t.Errorf("%s: stateOf = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func update(typ uint16, a netlink.LinkAttrs) netlink.LinkUpdate {
	u := netlink.LinkUpdate{Header: unix.NlMsghdr{Type: typ}, Link: &netlink.Device{LinkAttrs: a}}
	u.Index = int32(a.Index)
	return u
}

// TestTrack feeds a sequence of link events for "eth0" (index 2) and others.
func TestTrack(t *testing.T) {
	steps := []struct {
		name      string
		u         netlink.LinkUpdate
		want      linkState
		wantOK    bool
		wantIndex int
	}{
		{"other link", update(unix.RTM_NEWLINK, attrs("eth1", 3, upFlags, netlink.OperUp)), linkState{}, false, 0},
		{"ours appears", update(unix.RTM_NEWLINK, attrs("eth0", 2, upFlags, netlink.OperUp)), linkState{up: true}, true, 2},
		{"carrier lost", update(unix.RTM_NEWLINK, attrs("eth0", 2, unix.IFF_UP, netlink.OperLowerLayerDown)), linkState{detail: "no carrier"}, true, 2},
		{"other link deleted", update(unix.RTM_DELLINK, attrs("eth1", 3, 0, netlink.OperDown)), linkState{}, false, 2},
		{"renamed away", update(unix.RTM_NEWLINK, attrs("old0", 2, upFlags, netlink.OperUp)), linkState{detail: "renamed to old0"}, true, 0},
		{"renamed link changes later", update(unix.RTM_NEWLINK, attrs("old0", 2, 0, netlink.OperDown)), linkState{}, false, 0},
		{"new link takes the name", update(unix.RTM_NEWLINK, attrs("eth0", 7, upFlags, netlink.OperUp)), linkState{up: true}, true, 7},
		{"deleted", update(unix.RTM_DELLINK, attrs("eth0", 7, upFlags, netlink.OperUp)), linkState{detail: "gone"}, true, 0},
		{"event without link", netlink.LinkUpdate{Header: unix.NlMsghdr{Type: unix.RTM_NEWLINK}}, linkState{}, false, 0},
	}
	index := 0
	for _, s := range steps {
		got, ok := track("eth0", &index, s.u)
		if got != s.want || ok != s.wantOK || index != s.wantIndex {
			t.Errorf("%s: track = %+v, %v, index %d; want %+v, %v, index %d", s.name, got, ok, index, s.want, s.wantOK, s.wantIndex)
		}
	}
}
