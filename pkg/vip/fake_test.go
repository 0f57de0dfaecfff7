package vip

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vipkeeper/vipkeeper/internal/nlsub/nlsubtest"
)

// call is one AddrAdd or AddrDel the fake received.
type call struct {
	Index int
	Addr  kernelAddr
}

// fakeNetlink is an in-memory interface table. Its zero value is not usable;
// use newFake.
type fakeNetlink struct {
	mu       sync.Mutex // guards the fields below
	links    map[string]int
	addrs    map[int][]kernelAddr
	adds     []call
	dels     []call
	replaces []call
	addErr   map[netip.Addr]error // returned by AddrAdd instead of adding
	delErr   map[netip.Addr]error // returned by AddrDel instead of deleting
	nlists   int
	born     map[netip.Prefix]time.Time // when an address with a finite lifetime was added or replaced

	// events hands out address subscriptions; AddrSubscribe is its
	// Subscribe.
	events nlsubtest.Fake[netlink.AddrUpdate]
}

func newFake(ifname string, index int, addrs ...kernelAddr) *fakeNetlink {
	return &fakeNetlink{
		links:  map[string]int{ifname: index},
		addrs:  map[int][]kernelAddr{index: addrs},
		addErr: map[netip.Addr]error{},
		delErr: map[netip.Addr]error{},
	}
}

func (f *fakeNetlink) AddrList(ifname string) (int, []kernelAddr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nlists++
	index, ok := f.links[ifname]
	if !ok {
		return 0, nil, ErrInterfaceNotFound
	}
	out := append([]kernelAddr(nil), f.addrs[index]...)
	for i, a := range out {
		// Like the kernel, report the whole seconds left.
		if born, ok := f.born[a.Prefix]; ok && a.ValidLft != infiniteLifetime {
			out[i].ValidLft -= uint32(min(time.Since(born)/time.Second, time.Duration(a.ValidLft)))
		}
	}
	return index, out, nil
}

func (f *fakeNetlink) stamp(a kernelAddr) {
	if f.born == nil {
		f.born = map[netip.Prefix]time.Time{}
	}
	f.born[a.Prefix] = time.Now()
}

func (f *fakeNetlink) AddrAdd(index int, a kernelAddr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.adds = append(f.adds, call{index, a})
	if err := f.addErr[a.Prefix.Addr()]; err != nil {
		return err
	}
	for _, have := range f.addrs[index] {
		if have.Prefix == a.Prefix {
			return unix.EEXIST
		}
	}
	f.addrs[index] = append(f.addrs[index], a)
	f.stamp(a)
	return nil
}

func (f *fakeNetlink) AddrDel(index int, a kernelAddr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dels = append(f.dels, call{index, a})
	if err := f.delErr[a.Prefix.Addr()]; err != nil {
		return err
	}
	for i, have := range f.addrs[index] {
		if have.Prefix == a.Prefix {
			f.addrs[index] = append(f.addrs[index][:i], f.addrs[index][i+1:]...)
			return nil
		}
	}
	return unix.EADDRNOTAVAIL
}

func (f *fakeNetlink) AddrSubscribe(ch chan<- netlink.AddrUpdate, done <-chan struct{}, onErr func(error)) error {
	return f.events.Subscribe(ch, done, onErr)
}

// remove deletes ip from the interface behind the binder's back and sends the
// event the kernel would send, if anyone listens.
func (f *fakeNetlink) remove(index int, ip netip.Addr) {
	f.mu.Lock()
	var gone *kernelAddr
	for i, have := range f.addrs[index] {
		if have.Prefix.Addr() == ip {
			gone = &have
			f.addrs[index] = append(f.addrs[index][:i], f.addrs[index][i+1:]...)
			break
		}
	}
	f.mu.Unlock()
	if gone == nil {
		return
	}
	f.events.Send(netlinkUpdate(ip, gone.Prefix.Bits(), index))
}

func netlinkUpdate(ip netip.Addr, bits, index int) netlink.AddrUpdate {
	return netlink.AddrUpdate{
		LinkAddress: net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(bits, ip.BitLen())},
		LinkIndex:   index,
	}
}

// stats returns the number of AddrList and AddrSubscribe calls so far.
func (f *fakeNetlink) stats() (lists, subs int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nlists, f.events.Count()
}

// kernel returns a copy of the addresses on index.
func (f *fakeNetlink) kernel(index int) []kernelAddr {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]kernelAddr(nil), f.addrs[index]...)
}

func (f *fakeNetlink) calls() (adds, dels []call) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.adds...), append([]call(nil), f.dels...)
}

func (f *fakeNetlink) AddrReplace(index int, a kernelAddr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replaces = append(f.replaces, call{index, a})
	for i, have := range f.addrs[index] {
		if have.Prefix == a.Prefix {
			f.addrs[index][i] = a
			f.stamp(a)
			return nil
		}
	}
	// The kernel re-creates it (see TestIntegrationKernelLifetimeFacts).
	f.addrs[index] = append(f.addrs[index], a)
	f.stamp(a)
	return nil
}

// forever is addrs without deadlines.
func forever(addrs ...netip.Addr) []Want {
	w := make([]Want, len(addrs))
	for i, a := range addrs {
		w[i] = Want{Addr: a}
	}
	return w
}
