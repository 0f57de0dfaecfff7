package metrics

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Lifetimes is what AddLifetimes reads at scrape time.
type Lifetimes struct {
	// VIPs are the configured control-plane VIPs (one series per family).
	VIPs []netip.Addr
	// Deadlines is keeper.Keeper.Deadlines.
	Deadlines func() (controlPlane, services time.Time)
	// Expired is vip.Binder.Expired.
	Expired func() uint64
	// Now is the clock; time.Now if nil.
	Now func() time.Time
}

// AddLifetimes registers a collector of the addresses' lifetimes: how long
// the kernel keeps them at the latest if the daemon never runs again, and
// how many it removed at the end of their lifetime.
func (m *Metrics) AddLifetimes(l Lifetimes) error {
	if l.Now == nil {
		l.Now = time.Now
	}
	if err := m.reg.Register(newLifetimeCollector(l)); err != nil {
		return fmt.Errorf("register lifetime metrics: %w", err)
	}
	return nil
}

type lifetimeCollector struct {
	l                 Lifetimes
	vip, svc, expired *prometheus.Desc
}

func newLifetimeCollector(l Lifetimes) *lifetimeCollector {
	return &lifetimeCollector{
		l: l,
		vip: prometheus.NewDesc(prometheus.BuildFQName(namespace, "vip", "lifetime_seconds"),
			"Seconds until the kernel removes this node's VIP of the address family on its own, at the latest (its deadline); 0 while the node does not hold it.",
			[]string{"family"}, nil),
		svc: prometheus.NewDesc(prometheus.BuildFQName(namespace, "services", "lifetime_seconds"),
			"Seconds until the kernel removes this node's Service VIPs on their own, at the latest (the smallest deadline among them); 0 while it holds none.",
			nil, nil),
		expired: prometheus.NewDesc(prometheus.BuildFQName(namespace, "vip", "expired_total"),
			"Addresses (control-plane and Service VIPs) the kernel removed at the end of their lifetime, because no renewal or tick of a ride extended it; never put back.",
			nil, nil),
	}
}

func (c *lifetimeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.vip
	ch <- c.svc
	ch <- c.expired
}

func (c *lifetimeCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.l.Now()
	left := func(until time.Time) float64 {
		if until.IsZero() {
			return 0
		}
		return max(until.Sub(now).Seconds(), 0)
	}
	cp, svc := c.l.Deadlines()
	seen := map[string]bool{}
	for _, a := range c.l.VIPs {
		if f := Family(a); !seen[f] {
			seen[f] = true
			ch <- prometheus.MustNewConstMetric(c.vip, prometheus.GaugeValue, left(cp), f)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.svc, prometheus.GaugeValue, left(svc))
	ch <- prometheus.MustNewConstMetric(c.expired, prometheus.CounterValue, float64(c.l.Expired()))
}
