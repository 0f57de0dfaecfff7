package instruments

import (
	"context"
	"sync"
	"time"
)

// OwnersFunc reports which nodes hold the VIP right now.
type OwnersFunc func() ([]string, error)

// Sample is one look at who holds the VIP.
type Sample struct {
	At     time.Time `json:"at"`
	Owners []string  `json:"owners"`
	Err    string    `json:"err,omitempty"`
}

// OwnerMonitor samples Owners every Interval.
type OwnerMonitor struct {
	Owners   OwnersFunc
	Interval time.Duration // default 25ms

	mu      sync.Mutex // guards samples
	samples []Sample
}

// Run samples until ctx ends.
func (m *OwnerMonitor) Run(ctx context.Context) error {
	if m.Interval == 0 {
		m.Interval = 25 * time.Millisecond // issue 3: "sampled every ~25 ms"
	}
	tick := time.NewTicker(m.Interval)
	defer tick.Stop()
	for {
		s := Sample{At: time.Now()}
		owners, err := m.Owners()
		s.Owners = owners
		if err != nil {
			s.Err = err.Error()
		}
		m.mu.Lock()
		m.samples = append(m.samples, s)
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// Samples returns the samples so far, in time order.
func (m *OwnerMonitor) Samples() []Sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Sample(nil), m.samples...)
}
