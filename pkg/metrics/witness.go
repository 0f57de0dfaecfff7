package metrics

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Witness is what AddWitness reads at scrape time (pkg/witness).
type Witness struct {
	// Peers is the number of peers heard within the window.
	Peers func() int
	// Heard is the latest instant a peer was heard; zero before the first.
	Heard func() time.Time
	// Window is how recent the evidence must be for a ride to go on.
	Window time.Duration
	// Now is the clock; time.Now if nil.
	Now func() time.Time
}

// AddWitness registers the witness's gauges: how many peers this node
// hears on the VIP's link, and whether a ride past the deadline would be
// witnessed now.
func (m *Metrics) AddWitness(w Witness) error {
	if w.Now == nil {
		w.Now = time.Now
	}
	if err := m.reg.Register(newWitnessCollector(w)); err != nil {
		return fmt.Errorf("register witness metrics: %w", err)
	}
	return nil
}

type witnessCollector struct {
	w                Witness
	peers, witnessed *prometheus.Desc
}

func newWitnessCollector(w Witness) *witnessCollector {
	return &witnessCollector{
		w: w,
		peers: prometheus.NewDesc(prometheus.BuildFQName(namespace, "witness", "peers"),
			"Peers of this node's group heard on the VIP's link (beacons) within the witness window.",
			nil, nil),
		witnessed: prometheus.NewDesc(prometheus.BuildFQName(namespace, "ride", "witnessed"),
			"1 while a peer was heard on the VIP's link within the witness window, so that a holder riding through an API outage may keep its addresses past its deadline; 0 when it would be gone by its deadline.",
			nil, nil),
	}
}

func (c *witnessCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.peers
	ch <- c.witnessed
}

func (c *witnessCollector) Collect(ch chan<- prometheus.Metric) {
	ok := 0.0
	if h := c.w.Heard(); !h.IsZero() && c.w.Now().Before(h.Add(c.w.Window)) {
		ok = 1
	}
	ch <- prometheus.MustNewConstMetric(c.peers, prometheus.GaugeValue, float64(c.w.Peers()))
	ch <- prometheus.MustNewConstMetric(c.witnessed, prometheus.GaugeValue, ok)
}
