package guard

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/ethernet"

	"github.com/vipkeeper/vipkeeper/internal/ether/ethertest"
)

var errInjected = errors.New("injected error")

// fakeConn is a frameConn fed by the test. Everything it uses blocks on
// channels and timers, so it works inside a synctest bubble.
type fakeConn struct {
	net *fakeNet
	et  ethernet.EtherType
	in  chan []byte // frames to read; unbuffered, so a send waits for a reader
	err chan error  // read errors to return

	mu       sync.Mutex // guards the fields below
	deadline time.Time
	dlChange chan struct{} // closed when the deadline changes
	closed   bool
	done     chan struct{} // closed by Close
	written  [][]byte
}

func (c *fakeConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		c.mu.Lock()
		dl, dlChange := c.deadline, c.dlChange
		c.mu.Unlock()
		var timeout <-chan time.Time
		var timer *time.Timer
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, nil, os.ErrDeadlineExceeded
			}
			timer = time.NewTimer(d)
			timeout = timer.C
		}
		stop := func() {
			if timer != nil {
				timer.Stop()
			}
		}
		select {
		case f := <-c.in:
			stop()
			return copy(b, f), nil, nil
		case err := <-c.err:
			stop()
			return 0, nil, err
		case <-c.done:
			stop()
			return 0, nil, net.ErrClosed
		case <-timeout:
			return 0, nil, os.ErrDeadlineExceeded
		case <-dlChange:
			stop()
		}
	}
}

func (c *fakeConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	c.mu.Lock()
	closed := c.closed
	c.written = append(c.written, slices.Clone(b))
	c.mu.Unlock()
	if closed {
		return 0, net.ErrClosed
	}
	c.net.mu.Lock()
	werr, answer := c.net.writeErr, c.net.answer
	c.net.mu.Unlock()
	if werr != nil {
		return 0, werr
	}
	if answer != nil {
		// Delivered by another goroutine, like frames from the wire.
		for _, f := range answer(b) {
			go c.net.deliver(f)
		}
	}
	return len(b), nil
}

func (c *fakeConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	close(c.dlChange)
	c.dlChange = make(chan struct{})
	return nil
}

func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }

func (c *fakeConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return net.ErrClosed
	}
	c.closed = true
	close(c.done)
	return nil
}

func (c *fakeConn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// fakeGroups is a groupConn that records memberships.
type fakeGroups struct {
	mu     sync.Mutex // guards the fields below
	joined []netip.Addr
	closed bool
}

func (g *fakeGroups) JoinGroup(a netip.Addr) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.joined = append(g.joined, a)
	return nil
}

func (g *fakeGroups) LeaveGroup(a netip.Addr) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.joined = slices.DeleteFunc(g.joined, func(b netip.Addr) bool { return a == b })
	return nil
}

func (g *fakeGroups) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	return nil
}

func (g *fakeGroups) groups() []netip.Addr {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.joined)
}

// fakeNet stands in for the link: interface lookups and the three socket
// kinds, and optionally a peer that answers frames we write.
type fakeNet struct {
	link *ethertest.Link

	mu        sync.Mutex // guards the fields below
	openErr   error      // returned by openARP while set
	groupErr  error      // returned by openGroups while set
	writeErr  error
	answer    func(frame []byte) [][]byte
	conns     []*fakeConn
	groupSets []*fakeGroups
}

func newFakeNet() *fakeNet {
	return &fakeNet{link: ethertest.NewLink(net.Interface{Index: 7, Name: "vk0", MTU: 1500, HardwareAddr: ourMAC})}
}

// newTestGuard returns a Guard wired to f.
func newTestGuard(f *fakeNet) *Guard {
	g := New(Config{Interface: "vk0"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	g.lookupInterface = f.link.Lookup
	g.openARP = func(ifi *net.Interface) (frameConn, error) { return f.open(ethernet.EtherTypeARP) }
	g.openNDP = func(ifi *net.Interface) (frameConn, error) { return f.open(ethernet.EtherTypeIPv6) }
	g.openGroups = f.openGroups
	return g
}

func (f *fakeNet) open(et ethernet.EtherType) (frameConn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.openErr != nil && et == ethernet.EtherTypeARP {
		return nil, f.openErr
	}
	c := &fakeConn{net: f, et: et, in: make(chan []byte), err: make(chan error),
		dlChange: make(chan struct{}), done: make(chan struct{})}
	f.conns = append(f.conns, c)
	return c, nil
}

func (f *fakeNet) openGroups(*net.Interface) (groupConn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.groupErr != nil {
		return nil, f.groupErr
	}
	g := &fakeGroups{}
	f.groupSets = append(f.groupSets, g)
	return g, nil
}

// latest returns the newest open conn for frames of et, or nil.
func (f *fakeNet) latest(et ethernet.EtherType) *fakeConn {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range slices.Backward(f.conns) {
		if c.et == et && !c.isClosed() {
			return c
		}
	}
	return nil
}

// deliverTimeout bounds, in the bubble's fake time, how long deliver waits
// for a reader. A reader stuck elsewhere makes tests fail instead of hang
// (Start's ticker keeps the bubble from ever deadlocking).
const deliverTimeout = time.Minute

// deliver hands frame to the newest open conn of its EtherType, unless
// that conn is closed first. Frames to no conn are lost, as on a wire. It
// reports false if no reader took the frame within deliverTimeout.
func (f *fakeNet) deliver(frame []byte) bool {
	c := f.latest(ethernet.EtherType(binary.BigEndian.Uint16(frame[12:14])))
	if c == nil {
		return true
	}
	timer := time.NewTimer(deliverTimeout)
	defer timer.Stop()
	select {
	case c.in <- frame:
	case <-c.done:
	case <-timer.C:
		return false
	}
	return true
}

// send delivers frame to the reader, failing the test if none takes it.
func (f *fakeNet) send(t *testing.T, frame []byte) {
	t.Helper()
	if !f.deliver(frame) {
		t.Fatalf("no reader took the frame within %v", deliverTimeout)
	}
}

// fail makes the newest open conn of et return err from its next read.
func (f *fakeNet) fail(t *testing.T, et ethernet.EtherType, err error) {
	t.Helper()
	c := f.latest(et)
	if c == nil {
		t.Fatalf("no open %v conn", et)
	}
	timer := time.NewTimer(deliverTimeout)
	defer timer.Stop()
	select {
	case c.err <- err:
	case <-timer.C:
		t.Fatalf("no reader took the error within %v", deliverTimeout)
	}
}

func (f *fakeNet) allConns() []*fakeConn {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.conns)
}

// groups returns the i-th group conn opened.
func (f *fakeNet) groups(i int) *fakeGroups {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.groupSets[i]
}
