package ethertest

import (
	"errors"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vipkeeper/vipkeeper/internal/ether"
)

func TestLink(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0, 0x5e, 0x10, 0, 1}
	l := NewLink(net.Interface{Index: 7, Name: "vk0", HardwareAddr: mac})
	var _ ether.Lookup = l.Lookup

	got, err := l.Lookup("vk0")
	if err != nil {
		t.Fatal(err)
	}
	got.HardwareAddr[0] = 0xff // a copy: the fake is not changed
	l.Update(func(ifi *net.Interface) { ifi.Index = 8 })
	got, err = l.Lookup("vk0")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&net.Interface{Index: 8, Name: "vk0", HardwareAddr: mac}, got); diff != "" {
		t.Errorf("Lookup after Update (-want +got):\n%s", diff)
	}

	gone := errors.New("gone")
	l.Fail(gone)
	if _, err := l.Lookup("vk0"); !errors.Is(err, gone) {
		t.Errorf("Lookup after Fail: error %v, want %v", err, gone)
	}
	l.Fail(nil)
	if _, err := l.Lookup("vk0"); err != nil {
		t.Errorf("Lookup after Fail(nil): %v", err)
	}
}
