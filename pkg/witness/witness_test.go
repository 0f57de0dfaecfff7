package witness

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// hub is a fake link: every frame written by one port reaches every port,
// the writer's own included (as a packet socket sees outgoing frames).
// cut drops the frames between ports.
type hub struct {
	mu    sync.Mutex
	ports []*port
	cut   bool
}

type port struct {
	in   chan []byte
	done chan struct{}
	once sync.Once
	h    *hub
}

func (h *hub) open(*net.Interface) (conn, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := &port{in: make(chan []byte, 64), done: make(chan struct{}), h: h}
	h.ports = append(h.ports, p)
	return p, nil
}

func (p *port) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case f := <-p.in:
		return copy(b, f), nil, nil
	case <-p.done:
		return 0, nil, net.ErrClosed
	}
}

func (p *port) WriteTo(b []byte, _ net.Addr) (int, error) {
	p.h.mu.Lock()
	defer p.h.mu.Unlock()
	for _, q := range p.h.ports {
		if q != p && p.h.cut {
			continue
		}
		select {
		case q.in <- slices.Clone(b):
		default: // a full queue drops, as a socket's would
		}
	}
	return len(b), nil
}

func (p *port) Close() error { p.once.Do(func() { close(p.done) }); return nil }

// member is one witness on the hub, and what it reported.
type member struct {
	w       *Witness
	mu      sync.Mutex
	reports []time.Time
}

func (m *member) last() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.reports) == 0 {
		return time.Time{}
	}
	return m.reports[len(m.reports)-1]
}

func join(h *hub, group, node string, mac byte) *member {
	m := &member{}
	m.w = New(Config{Interface: "eth0", Group: group, Node: node, Interval: 500 * time.Millisecond, Window: 2 * time.Second,
		Report: []func(time.Time){func(at time.Time) { m.mu.Lock(); m.reports = append(m.reports, at); m.mu.Unlock() }}},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	m.w.lookup = func(string) (*net.Interface, error) {
		return &net.Interface{Index: 2, Name: "eth0", HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, mac}}, nil
	}
	m.w.open = h.open
	return m
}

// Members of one group hear each other and report it; another group on
// the same link, and a node's own frames, are no evidence; a cut link
// stops the evidence.
func TestWitnessHub(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &hub{}
		a := join(h, "kube-system/vipkeeper", "node-a", 1)
		b := join(h, "kube-system/vipkeeper", "node-b", 2)
		other := join(h, "kube-system/other", "node-c", 3)
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		for _, m := range []*member{a, b, other} {
			wg.Go(func() {
				if err := m.w.Start(ctx); err != nil {
					t.Errorf("Start: %v", err)
				}
			})
		}
		time.Sleep(1100 * time.Millisecond) // fake time: two beacons each
		synctest.Wait()
		got := map[string]int{"a": a.w.Peers(), "b": b.w.Peers(), "other": other.w.Peers()}
		if diff := cmp.Diff(map[string]int{"a": 1, "b": 1, "other": 0}, got); diff != "" {
			t.Errorf("Peers mismatch (-want +got):\n%s", diff)
		}
		if a.last().IsZero() || !other.last().IsZero() {
			t.Errorf("reports: a last %v (want set), other last %v (want none)", a.last(), other.last())
		}
		if a.last() != a.w.Heard() {
			t.Errorf("a reported %v, heard %v", a.last(), a.w.Heard())
		}

		h.mu.Lock()
		h.cut = true
		h.mu.Unlock()
		cutAt := time.Now()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if a.w.Peers() != 0 {
			t.Errorf("a still counts %d live peers %v after the cut", a.w.Peers(), time.Since(cutAt))
		}
		if a.last().After(cutAt) {
			t.Errorf("a reported a peer heard at %v, after the cut at %v", a.last(), cutAt)
		}
		cancel()
		wg.Wait()
	})
}

// A socket that fails is opened again after a backoff.
func TestWitnessReopens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &hub{}
		a := join(h, "g", "node-a", 1)
		opens := 0
		a.w.open = func(ifi *net.Interface) (conn, error) {
			opens++
			if opens == 1 {
				return nil, errors.New("no socket for you")
			}
			return h.open(ifi)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- a.w.Start(ctx) }()
		time.Sleep(minBackoff + time.Millisecond)
		synctest.Wait()
		if opens != 2 {
			t.Errorf("opened %d times, want 2", opens)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start: %v", err)
		}
	})
}

// A node name that cannot be sent fails Start at once.
func TestWitnessBadName(t *testing.T) {
	w := New(Config{Node: ""}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := w.Start(t.Context()); err == nil {
		t.Error("Start with an empty node name: no error")
	}
}
