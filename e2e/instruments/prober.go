package instruments

import (
	"context"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// DialFunc opens a connection; the lab passes one that dials from inside the
// client's network namespace.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Probe is one attempt to reach the VIP.
type Probe struct {
	Start   time.Time     `json:"start"`
	Latency time.Duration `json:"latency_ns"`
	Node    string        `json:"node,omitempty"` // who answered; "" on error
	Err     string        `json:"err,omitempty"`
}

// OK reports whether the probe got an answer.
func (p Probe) OK() bool { return p.Err == "" }

// Prober asks Target who serves it on a fresh connection every Interval.
// Probes overlap when one takes longer than Interval, so an outage is seen
// with Interval's resolution, not Timeout's.
type Prober struct {
	Dial        DialFunc
	Target      string        // "vip:port"
	Interval    time.Duration // default 20ms
	Timeout     time.Duration // per probe, connect to answer; default 100ms
	MaxInFlight int           // default 8; ticks are skipped beyond it

	mu     sync.Mutex // guards probes
	probes []Probe
}

func (p *Prober) defaults() {
	if p.Interval == 0 {
		p.Interval = 20 * time.Millisecond // issue 3: "every ~20 ms"
	}
	if p.Timeout == 0 {
		p.Timeout = 100 * time.Millisecond // a LAN answer takes < 1 ms; 100 ms is an outage
	}
	if p.MaxInFlight == 0 {
		p.MaxInFlight = 8 // > Timeout/Interval, so it only bites if probes hang
	}
}

// Run probes until ctx ends, then waits for probes in flight.
func (p *Prober) Run(ctx context.Context) error {
	p.defaults()
	sem := make(chan struct{}, p.MaxInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(p.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			p.probeOnce()
		})
	}
}

func (p *Prober) probeOnce() {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), p.Timeout)
	defer cancel()
	node, err := HTTPGet(ctx, p.Dial, p.Target)
	r := Probe{Start: start, Latency: time.Since(start), Node: node}
	if err != nil {
		r.Node, r.Err = "", shortErr(err)
	}
	p.mu.Lock()
	p.probes = append(p.probes, r)
	p.mu.Unlock()
}

// Probes returns the probes so far, ordered by start time.
func (p *Prober) Probes() []Probe {
	p.mu.Lock()
	out := append([]Probe(nil), p.probes...)
	p.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// HTTPGet does `GET /` on a fresh connection made with dial and returns the
// body (a node's name), trimmed. ctx bounds the whole exchange.
func HTTPGet(ctx context.Context, dial DialFunc, addr string) (string, error) {
	c := &http.Client{Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256)) // a node's name; never more
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// shortErr keeps the cause of a probe error ("connection refused",
// "i/o timeout", "context deadline exceeded") and drops the repeated URL.
func shortErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}
