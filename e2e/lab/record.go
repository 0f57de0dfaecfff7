package lab

import (
	"net/netip"

	"github.com/vipkeeper/vipkeeper/e2e/instruments"
)

// Record starts probing vip from the client namespace and sampling who
// holds it. It stops at the end of the test (before the lab is torn down)
// or on Stop.
func (l *Lab) Record(vip netip.Addr) *instruments.Recording {
	r := instruments.StartRecording(l.client.DialContext, l.Target(vip),
		func() ([]string, error) { return l.OwnersOf(vip) })
	l.t.Cleanup(r.Stop)
	return r
}
