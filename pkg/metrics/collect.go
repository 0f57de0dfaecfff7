package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vipkeeper/vipkeeper/pkg/announce"
	"github.com/vipkeeper/vipkeeper/pkg/guard"
)

// AddAnnouncer registers a collector that reads the announcer's counters
// at scrape time. stats is announce.Announcer.Stats.
func (m *Metrics) AddAnnouncer(stats func() map[announce.StatsKey]announce.Counts) error {
	if err := m.reg.Register(newAnnounceCollector(stats)); err != nil {
		return fmt.Errorf("register announcer metrics: %w", err)
	}
	return nil
}

// announceCollector exports announce.Announcer.Stats: every protocol and
// trigger, zero or not, so the series exist from the first scrape.
type announceCollector struct {
	stats        func() map[announce.StatsKey]announce.Counts
	sent, errors *prometheus.Desc
	// sentOld is vipkeeper_announcements_sent_total, the name sent had
	// before every announcement family moved to the announce subsystem.
	// Exported beside it for one release so that alerts keep working;
	// remove it in the release after (CHANGELOG.md).
	sentOld *prometheus.Desc
}

func newAnnounceCollector(stats func() map[announce.StatsKey]announce.Counts) *announceCollector {
	const sentHelp = "Gratuitous ARP and unsolicited NA packets sent, by protocol and by why they were sent."
	return &announceCollector{
		stats: stats,
		sent: prometheus.NewDesc(prometheus.BuildFQName(namespace, "announce", "sent_total"),
			sentHelp, []string{"protocol", "trigger"}, nil),
		errors: prometheus.NewDesc(prometheus.BuildFQName(namespace, "announce", "errors_total"),
			"Announcements of one address in one round that failed (socket or interface errors).", nil, nil),
		sentOld: prometheus.NewDesc(prometheus.BuildFQName(namespace, "announcements", "sent_total"),
			"Deprecated: use vipkeeper_announce_sent_total, the same counter; this name goes in the next release. "+sentHelp,
			[]string{"protocol", "trigger"}, nil),
	}
}

func (c *announceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.sent
	ch <- c.errors
	ch <- c.sentOld
}

func (c *announceCollector) Collect(ch chan<- prometheus.Metric) {
	stats := c.stats()
	var errs uint64
	for _, p := range []announce.Protocol{announce.ProtocolARP, announce.ProtocolNDP} {
		for _, t := range []announce.Trigger{announce.TriggerTakeover, announce.TriggerRefresh} {
			n := float64(stats[announce.StatsKey{Protocol: p, Trigger: t}].Packets)
			ch <- prometheus.MustNewConstMetric(c.sent, prometheus.CounterValue, n, string(p), string(t))
			ch <- prometheus.MustNewConstMetric(c.sentOld, prometheus.CounterValue, n, string(p), string(t))
		}
	}
	for _, n := range stats {
		errs += n.Errors
	}
	ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(errs))
}

// AddGuard registers a collector that reads the guard's counters at
// scrape time. stats is guard.Guard.Stats.
func (m *Metrics) AddGuard(stats func() guard.Stats) error {
	if err := m.reg.Register(newGuardCollector(stats)); err != nil {
		return fmt.Errorf("register guard metrics: %w", err)
	}
	return nil
}

// guardCollector exports guard.Guard.Stats.
type guardCollector struct {
	stats                            func() guard.Stats
	reported, dropped, opens, errors *prometheus.Desc
}

func newGuardCollector(stats func() guard.Stats) *guardCollector {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "guard", name), help, nil, nil)
	}
	return &guardCollector{
		stats: stats,
		reported: desc("claims_reported_total",
			"Claims on a held VIP seen on the wire from another MAC and passed on to be acted upon."),
		dropped: desc("claims_dropped_total",
			"Claims on a held VIP dropped because the queue of claims not yet acted upon was full."),
		opens: desc("listener_opens_total",
			"Times the guard opened its ARP and NDP listeners: once at start, again after a failure or when the interface was re-created."),
		errors: desc("listener_errors_total",
			"Failures to open the guard's listeners and read errors on them; claims go unseen until they are reopened."),
	}
}

func (c *guardCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.reported
	ch <- c.dropped
	ch <- c.opens
	ch <- c.errors
}

func (c *guardCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	for _, v := range []struct {
		d *prometheus.Desc
		n uint64
	}{{c.reported, s.Reported}, {c.dropped, s.Dropped}, {c.opens, s.Opens}, {c.errors, s.Errors}} {
		ch <- prometheus.MustNewConstMetric(v.d, prometheus.CounterValue, float64(v.n))
	}
}
