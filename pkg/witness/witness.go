package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/mdlayher/packet"

	"github.com/vipkeeper/vipkeeper/internal/ether"
)

// Pacing of the listener's sessions.
const (
	// minBackoff and maxBackoff bound the wait before reopening the socket
	// after an error: soon enough that a peer's evidence is back within a
	// window or two, rare enough not to spin on a link that is gone.
	minBackoff = 500 * time.Millisecond
	maxBackoff = 10 * time.Second
	// linkCheckInterval is how often a session looks the interface up
	// again: a link deleted and created again (new index) or given a new
	// MAC leaves the socket deaf, and the lookup dumps every link over
	// netlink, so not on every beacon.
	linkCheckInterval = 5 * time.Second
	// readBufferSize holds any beacon; longer frames of the EtherType are
	// not beacons and are truncated harmlessly.
	readBufferSize = 2048
	// minFrameLen is Ethernet's minimum frame without its FCS: a beacon is
	// padded up to it.
	minFrameLen  = 60
	ethHeaderLen = 14
)

// Config is a witness's setting.
type Config struct {
	// Interface is the VIP's link: the witness belongs to it.
	Interface string
	// Group names the group (the control-plane Lease's namespace/name);
	// only beacons of the same group are evidence.
	Group string
	// Node is this node's name, sent in its beacons; beacons with it are
	// ours and ignored.
	Node string
	// Interval is the time between two beacons.
	Interval time.Duration
	// Window is how long a peer counts as live after its last beacon
	// (Peers).
	Window time.Duration
	// Report is told, in order, the latest instant a peer was heard, soon
	// after it is heard and at most four times an Interval. It may block.
	Report []func(heard time.Time)
}

// conn is the part of *packet.Conn the witness uses.
type conn interface {
	ReadFrom(b []byte) (int, net.Addr, error)
	WriteTo(b []byte, addr net.Addr) (int, error)
	Close() error
}

// Witness sends this node's beacons and hears its peers'. Build it with
// New; Start runs it.
type Witness struct {
	cfg    Config
	log    *slog.Logger
	group  Group
	lookup ether.Lookup
	open   func(ifi *net.Interface) (conn, error)

	mu    sync.Mutex // guards below
	peers peers
	heard time.Time // the latest instant any peer was heard
	seq   uint64
	fresh bool // the evidence was fresh at the last tick (logChange)

	poke chan struct{} // a peer was heard: report
}

// New returns a witness; it starts nothing and opens nothing.
func New(cfg Config, log *slog.Logger) *Witness {
	return &Witness{
		cfg:    cfg,
		log:    log.With("component", "witness"),
		group:  GroupOf(cfg.Group),
		lookup: net.InterfaceByName,
		open: func(ifi *net.Interface) (conn, error) {
			return packet.Listen(ifi, packet.Raw, EtherType, nil)
		},
		peers: peers{},
		poke:  make(chan struct{}, 1),
	}
}

// Peers is the number of peers heard less than a Window ago. Safe for
// concurrent use.
func (w *Witness) Peers() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peers.live(time.Now(), w.cfg.Window)
}

// Heard is the latest instant a peer was heard; zero before the first.
// Safe for concurrent use.
func (w *Witness) Heard() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.heard
}

// Start sends beacons and listens for the peers' until ctx ends, then
// returns nil. After an error, and when the interface is re-created or
// changes its MAC, it opens the socket again after a backoff. It must run
// in the network namespace of Config.Interface.
func (w *Witness) Start(ctx context.Context) error {
	if _, err := (Beacon{Group: w.group, Node: w.cfg.Node}).Marshal(); err != nil {
		return fmt.Errorf("witness: %w", err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { w.reportLoop(ctx) })
	backoff := minBackoff
	for {
		opened := time.Now()
		err := w.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(opened) > linkCheckInterval {
			backoff = minBackoff // that session was healthy for a while
		}
		w.log.Warn("witness socket failed, reopening", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// errLinkChanged ends a session whose interface was re-created or changed
// its MAC.
var errLinkChanged = errors.New("interface changed")

// session opens the socket, beacons and reads until ctx ends, the socket
// fails or the link changes, and closes it. It returns why it stopped.
func (w *Witness) session(ctx context.Context) error {
	ifi, err := ether.Link(w.lookup, w.cfg.Interface)
	if err != nil {
		return err
	}
	c, err := w.open(ifi)
	if err != nil {
		return fmt.Errorf("open beacon socket on %q: %w", w.cfg.Interface, err)
	}
	readErr := make(chan error, 1)
	go func() { readErr <- w.read(c, ifi.HardwareAddr) }()
	defer func() {
		_ = c.Close() // unblocks the reader
		<-readErr
	}()
	tick := time.NewTicker(w.cfg.Interval)
	defer tick.Stop()
	lastCheck := time.Now()
	for {
		if err := w.send(c, ifi.HardwareAddr); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-readErr:
			readErr <- err // for the deferred wait
			return err
		case <-tick.C:
		}
		w.logChange()
		if time.Since(lastCheck) >= linkCheckInterval {
			lastCheck = time.Now()
			now, err := ether.Link(w.lookup, w.cfg.Interface)
			if err != nil {
				return err
			}
			if !ether.Same(ifi, now) {
				return errLinkChanged
			}
		}
	}
}

// logChange logs when the evidence turns fresh or stale: an operator
// sees when a ride would stop being witnessed.
func (w *Witness) logChange() {
	w.mu.Lock()
	heard := w.heard
	fresh := !heard.IsZero() && time.Since(heard) < w.cfg.Window
	changed := fresh != w.fresh
	w.fresh = fresh
	w.mu.Unlock()
	switch {
	case changed && fresh:
		w.log.Info("hearing peers on the link", "interface", w.cfg.Interface)
	case changed:
		w.log.Warn("no peer heard on the link; a ride through an API outage would end at the deadline",
			"interface", w.cfg.Interface, "last_heard", heard, "window", w.cfg.Window)
	}
}

// broadcast is the beacons' destination: every port of the link.
var broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// send writes one beacon.
func (w *Witness) send(c conn, mac net.HardwareAddr) error {
	w.mu.Lock()
	w.seq++
	seq := w.seq
	w.mu.Unlock()
	payload, err := Beacon{Group: w.group, Seq: seq, Node: w.cfg.Node}.Marshal()
	if err != nil {
		return err
	}
	frame := make([]byte, 0, max(minFrameLen, ethHeaderLen+len(payload)))
	frame = append(frame, broadcast...)
	frame = append(frame, mac...)
	frame = append(frame, EtherType>>8, EtherType&0xff)
	frame = append(frame, payload...)
	frame = frame[:max(len(frame), minFrameLen)] // zero padding
	if _, err := c.WriteTo(frame, &packet.Addr{HardwareAddr: broadcast}); err != nil {
		return fmt.Errorf("send beacon: %w", err)
	}
	return nil
}

// read takes frames until the socket fails or is closed, and records the
// beacons of the group's other members.
func (w *Witness) read(c conn, mac net.HardwareAddr) error {
	buf := make([]byte, readBufferSize)
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return fmt.Errorf("read beacon: %w", err)
		}
		f := buf[:n]
		if n < ethHeaderLen || bytes.Equal(f[6:12], mac) || int(f[12])<<8|int(f[13]) != EtherType {
			continue // short, our own (packet sockets see outgoing frames too), or not a beacon
		}
		b, err := Parse(f[ethHeaderLen:])
		if err != nil || b.Group != w.group || b.Node == w.cfg.Node {
			continue
		}
		w.record(b.Node, time.Now())
	}
}

// record notes node heard at at and wakes the reporter.
func (w *Witness) record(node string, at time.Time) {
	w.mu.Lock()
	w.peers.heard(node, at)
	w.heard = at
	w.mu.Unlock()
	select {
	case w.poke <- struct{}{}:
	default:
	}
}

// reportLoop tells Report the latest instant a peer was heard, each time a
// peer is heard, at most every quarter Interval: with several peers that
// is far fewer reports than beacons, and a report is at most that late —
// besides, the evidence carries the instant it was heard, not the
// instant it is reported, so a late report only errs towards stale.
func (w *Witness) reportLoop(ctx context.Context) {
	gap := w.cfg.Interval / 4
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.poke:
		}
		heard := w.Heard()
		if heard.After(last) {
			last = heard
			for _, r := range w.cfg.Report {
				r(heard)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(gap):
		}
	}
}
