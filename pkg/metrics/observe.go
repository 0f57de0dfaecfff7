package metrics

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/vipkeeper/vipkeeper/pkg/keeper"
	"github.com/vipkeeper/vipkeeper/pkg/services/ipam"
)

// reasonOther is the unbind reason label of a reason the keeper does not
// list (none today); it keeps the label set closed.
const reasonOther = "other"

// Observe implements keeper.Observer: leadership and VIP transitions.
func (m *Metrics) Observe(t keeper.Transition) {
	switch t.Change {
	case keeper.Acquired:
		m.leader.Set(1)
		m.leaderTransitions.Inc()
		m.leaderSince.Set(float64(t.At.UnixNano()) / 1e9)
	case keeper.Lost:
		m.leader.Set(0)
		m.leaderTransitions.Inc()
		m.leaderSince.Set(0)
	case keeper.Bound:
		m.vipBind.Inc()
		m.setBound(t, 1)
	case keeper.Unbound:
		m.vipUnbind.WithLabelValues(reasonLabel(t.Reason)).Inc()
		m.setBound(t, 0)
	case keeper.Restored:
		m.vipRestored.Inc()
	case keeper.Contested:
		m.vipContested.Inc()
	}
}

func (m *Metrics) setBound(t keeper.Transition, v float64) {
	for _, a := range t.VIPs {
		m.vipBound.WithLabelValues(Family(a)).Set(v)
	}
}

func reasonLabel(r keeper.Reason) string {
	for _, known := range keeper.Reasons() {
		if r == known {
			return string(r)
		}
	}
	return reasonOther
}

// LeaseWrite implements election.Observer: one Lease write naming this
// node, an acquisition or a renewal attempt.
func (m *Metrics) LeaseWrite(took time.Duration, err error) {
	m.renewDuration.Observe(took.Seconds())
	if err != nil {
		m.renewFailures.Inc()
	}
}

// ObserveProbe records one health probe; it has the signature of the
// health prober's Config.Observe. check is the check's configured name
// (http-0, icmp-0, …).
func (m *Metrics) ObserveProbe(check string, ok bool, took time.Duration) {
	m.probeSuccess.WithLabelValues(check).Set(boolf(ok))
	m.probeDuration.WithLabelValues(check).Set(took.Seconds())
}

// SetHealthy records the node's aggregate health.
func (m *Metrics) SetHealthy(healthy bool) { m.healthy.Set(boolf(healthy)) }

// SetAPIServerReady records the check of this node's own API server;
// without Config.APIServerCheck it does nothing.
func (m *Metrics) SetAPIServerReady(ready bool) {
	if m.apiServerReady != nil {
		m.apiServerReady.Set(boolf(ready))
	}
}

// SetAPIReachable records the watchdog's verdict; a change from
// unreachable to reachable counts as a recovery.
func (m *Metrics) SetAPIReachable(up bool) {
	m.mu.Lock()
	recovered := up && !m.apiUp
	m.apiUp = up
	m.mu.Unlock()
	m.apiReachable.Set(boolf(up))
	if recovered {
		m.apiRecoveries.Inc()
	}
}

// SetDoctorFindings replaces the doctor's finding counts; severities
// missing from counts are set to 0. Keys are doctor severity names (info,
// warning, error).
func (m *Metrics) SetDoctorFindings(counts map[string]int) {
	m.doctorFindings.Reset()
	for _, s := range []string{"info", "warning", "error"} {
		m.doctorFindings.WithLabelValues(s).Set(float64(counts[s]))
	}
}

// ServiceVIPs exports the services controller's figures after each pass.
func (m *Metrics) ServiceVIPs(bound, claimed, addresses int, allocator bool) {
	m.serviceVIPs.WithLabelValues("bound").Set(float64(bound))
	m.serviceVIPs.WithLabelValues("claimed").Set(float64(claimed))
	m.serviceVIPs.WithLabelValues("allocated").Set(float64(addresses))
	m.allocator.Set(boolf(allocator))
}

// PoolsDiffer exports whether this node's flag pools differ from the
// allocator node's.
func (m *Metrics) PoolsDiffer(differ bool) { m.poolsDiffer.Set(boolf(differ)) }

// PoolLink records the state of a pool's interface on this node.
func (m *Metrics) PoolLink(iface string, up bool) { m.poolLinkUp.WithLabelValues(iface).Set(boolf(up)) }

// poolFamily is one pool and family of vipkeeper_services_pool_addresses.
type poolFamily struct{ pool, family string }

// SetPoolUsage exports the allocator's pool usage (ipam.Allocator.Usage):
// for each pool and family the addresses allocated and usable in total.
// Series of pools and families missing from usage are removed, so nil
// (this node does not hold the allocator role) removes them all.
func (m *Metrics) SetPoolUsage(usage []ipam.PoolUsage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := make(map[poolFamily]struct{}, len(usage))
	for _, u := range usage {
		k := poolFamily{u.Pool, familyLabel(u.Family)}
		now[k] = struct{}{}
		m.poolAddresses.WithLabelValues(k.pool, k.family, "allocated").Set(float64(u.Used))
		m.poolAddresses.WithLabelValues(k.pool, k.family, "total").Set(u.Size)
	}
	for k := range m.pools {
		if _, ok := now[k]; !ok {
			m.poolAddresses.DeleteLabelValues(k.pool, k.family, "allocated")
			m.poolAddresses.DeleteLabelValues(k.pool, k.family, "total")
		}
	}
	m.pools = now
}

// familyLabel is the family label value of a Kubernetes IP family.
func familyLabel(f corev1.IPFamily) string {
	if f == corev1.IPv4Protocol {
		return FamilyIPv4
	}
	return FamilyIPv6
}
