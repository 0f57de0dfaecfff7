package announce

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ndp"
	"golang.org/x/net/ipv6"

	"github.com/vipkeeper/vipkeeper/internal/ether/ethertest"
)

var (
	testMAC  = net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x01}
	testMAC2 = net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x02}
	vip4     = netip.MustParseAddr("192.0.2.100")
	vip4b    = netip.MustParseAddr("198.51.100.7")
	vip6     = netip.MustParseAddr("2001:db8::100")
	testLL   = netip.MustParseAddr("fe80::1").WithZone("vk0")

	errWrite = errors.New("injected write error")
)

// sentPacket is one packet a fake writer saw.
type sentPacket struct {
	At    time.Duration // since the fake was created
	ARP   *arp.Packet
	ARPTo net.HardwareAddr
	NA    *ndp.NeighborAdvertisement
	NDPTo netip.Addr
	CM    *ipv6.ControlMessage
}

// fakeNet stands in for the link and both socket kinds.
type fakeNet struct {
	start time.Time

	link *ethertest.Link

	mu          sync.Mutex // guards the fields below
	sent        []sentPacket
	arpDials    int
	ndpListens  []ndp.Addr
	open        int           // writers not yet closed
	failWrites  int           // fail this many upcoming writes
	linkLocalOK bool          // whether listening on ndp.LinkLocal succeeds
	dialErr     error         // returned by every dial while set
	writeDelay  time.Duration // each write takes this long (a full send buffer)
}

func newFakeNet() *fakeNet {
	return &fakeNet{
		start:       time.Now(),
		link:        ethertest.NewLink(net.Interface{Index: 7, Name: "vk0", HardwareAddr: testMAC}),
		linkLocalOK: true,
	}
}

// takeover announces ips and bursts all of them, as the keeper does right
// after binding them.
func takeover(a *Announcer, ips ...netip.Addr) { a.Announce(ips, ips) }

// newTestAnnouncer returns an Announcer wired to f.
func newTestAnnouncer(t *testing.T, cfg Config, f *fakeNet) *Announcer {
	t.Helper()
	if cfg.Interface == "" {
		cfg.Interface = "vk0"
	}
	a := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	a.lookupInterface = f.link.Lookup
	a.dialARP = f.dialARP
	a.listenNDP = f.listenNDP
	return a
}

func (f *fakeNet) dialARP(*net.Interface) (arpWriter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dialErr != nil {
		return nil, f.dialErr
	}
	f.arpDials++
	f.open++
	return &fakeWriter{f: f}, nil
}

func (f *fakeNet) listenNDP(_ *net.Interface, addr ndp.Addr) (ndpWriter, netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ndpListens = append(f.ndpListens, addr)
	if f.dialErr != nil {
		return nil, netip.Addr{}, f.dialErr
	}
	src := testLL
	if addr == ndp.LinkLocal {
		if !f.linkLocalOK {
			return nil, netip.Addr{}, errors.New("no usable link-local address")
		}
	} else {
		src = netip.MustParseAddr(string(addr))
	}
	f.open++
	return fakeNDPWriter{&fakeWriter{f: f}}, src, nil
}

// write records p unless a failure is pending.
func (f *fakeNet) write(p sentPacket) error {
	f.mu.Lock()
	delay := f.writeDelay
	f.mu.Unlock()
	time.Sleep(delay)

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWrites > 0 {
		f.failWrites--
		return errWrite
	}
	p.At = time.Since(f.start)
	f.sent = append(f.sent, p)
	return nil
}

func (f *fakeNet) packets() []sentPacket {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentPacket(nil), f.sent...)
}

func (f *fakeNet) set(fn func(f *fakeNet)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeNet) snapshot() (arpDials int, ndpListens []ndp.Addr, open int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.arpDials, append([]ndp.Addr(nil), f.ndpListens...), f.open
}

// fakeWriter implements arpWriter and ndpWriter.
type fakeWriter struct {
	f      *fakeNet
	closed bool
}

func (w *fakeWriter) WriteTo(p *arp.Packet, addr net.HardwareAddr) error {
	if w.closed {
		return net.ErrClosed
	}
	return w.f.write(sentPacket{ARP: p, ARPTo: addr})
}

func (w *fakeWriter) SetWriteDeadline(time.Time) error { return nil }

func (w *fakeWriter) Close() error {
	if w.closed {
		return net.ErrClosed
	}
	w.closed = true
	w.f.set(func(f *fakeNet) { f.open-- })
	return nil
}

// fakeNDPWriter adapts fakeWriter to the ndpWriter method set.
type fakeNDPWriter struct{ *fakeWriter }

func (w fakeNDPWriter) WriteTo(m ndp.Message, cm *ipv6.ControlMessage, dst netip.Addr) error {
	if w.closed {
		return net.ErrClosed
	}
	na, ok := m.(*ndp.NeighborAdvertisement)
	if !ok {
		return errors.New("unexpected ndp message type")
	}
	return w.f.write(sentPacket{NA: na, NDPTo: dst, CM: cm})
}
