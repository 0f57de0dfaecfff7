package metrics

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/vipkeeper/vipkeeper/pkg/keeper"
	"github.com/vipkeeper/vipkeeper/pkg/version"
)

const namespace = "vipkeeper"

// Address families, the values of the family label.
const (
	FamilyIPv4 = "ipv4"
	FamilyIPv6 = "ipv6"
)

// Family returns the family label value of a.
func Family(a netip.Addr) string {
	if a.Unmap().Is4() {
		return FamilyIPv4
	}
	return FamilyIPv6
}

// Config says what the metrics describe.
type Config struct {
	// Lease is the value of the lease label: namespace/name.
	Lease string
	// VIPs are the configured VIPs; vipkeeper_vip_bound starts at 0 for
	// each of their families.
	VIPs []netip.Addr
	// Build is exported as vipkeeper_build_info.
	Build version.Info
	// Healthy is the health before the first report (the keeper's too).
	Healthy bool
	// APIServerCheck exports vipkeeper_api_server_ready, starting at 0
	// (--api-server-check); without it the family is absent.
	APIServerCheck bool
}

// Metrics holds every vipkeeper family. Its methods are safe for
// concurrent use.
type Metrics struct {
	reg      prometheus.Registerer
	families []string // of the configured VIPs

	leader            prometheus.Gauge
	leaderTransitions prometheus.Counter
	leaderSince       prometheus.Gauge
	renewDuration     prometheus.Histogram
	renewFailures     prometheus.Counter
	vipBound          *prometheus.GaugeVec
	vipBind           prometheus.Counter
	vipUnbind         *prometheus.CounterVec
	vipRestored       prometheus.Counter
	vipContested      prometheus.Counter
	probeSuccess      *prometheus.GaugeVec
	probeDuration     *prometheus.GaugeVec
	healthy           prometheus.Gauge
	apiReachable      prometheus.Gauge
	apiRecoveries     prometheus.Counter
	apiServerReady    prometheus.Gauge // nil without the check
	doctorFindings    *prometheus.GaugeVec
	serviceVIPs       *prometheus.GaugeVec
	allocator         prometheus.Gauge
	poolAddresses     *prometheus.GaugeVec
	poolsDiffer       prometheus.Gauge
	poolLinkUp        *prometheus.GaugeVec

	mu    sync.Mutex // guards the fields below
	apiUp bool
	pools map[poolFamily]struct{} // series of poolAddresses set by the last SetPoolUsage
}

// NewRegistry returns a registry with the Go runtime and process
// collectors, for New and the /metrics handler.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// New creates the families and registers them on reg. It fails only if a
// family is registered twice.
func New(reg prometheus.Registerer, cfg Config) (*Metrics, error) {
	m := &Metrics{reg: reg, apiUp: true}
	leader := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "leader",
		Help: "1 while this node holds the lease, else 0."}, []string{"lease"})
	m.leader = leader.WithLabelValues(cfg.Lease)
	m.leaderTransitions = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "leader_transitions_total",
		Help: "Changes of vipkeeper_leader on this node: acquisitions and losses of the lease."})
	m.leaderSince = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "leader_since_timestamp_seconds",
		Help: "Unix time at which this node last acquired the lease; 0 while it does not hold it."})
	m.renewDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Subsystem: "lease", Name: "renew_duration_seconds",
		Help: "Duration of the Lease writes that name this node (acquisition and renewal attempts), failed ones included.",
		// From a fast local API server (a few ms) to the lease client's
		// timeout (half the renew deadline, 1.5 s by default) and beyond.
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 1.5, 2.5, 5}})
	m.renewFailures = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "lease", Name: "renew_failures_total",
		Help: "Lease writes naming this node that failed (timeout, conflict, API error)."})
	m.vipBound = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "vip", Name: "bound",
		Help: "1 while this node holds the VIP of the address family, else 0."}, []string{"family"})
	m.vipBind = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "vip", Name: "bind_total",
		Help: "Times this node bound the VIP after winning the lease."})
	m.vipUnbind = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "vip", Name: "unbind_total",
		Help: "Times this node withdrew the VIP, by reason."}, []string{"reason"})
	m.vipRestored = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "vip", Name: "restored_total",
		Help: "Times the VIP was re-added after something else removed it from the interface."})
	m.vipContested = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "vip", Name: "contested_total",
		Help: "Times this node bound the VIP although another host still answered for it after the pre-bind probe waited as long as any earlier holder can keep it."})
	m.probeSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "health", Name: "probe_success",
		Help: "1 if the last probe of the health check succeeded, else 0."}, []string{"check"})
	m.probeDuration = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "health", Name: "probe_duration_seconds",
		Help: "Duration of the last probe of the health check."}, []string{"check"})
	m.healthy = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "healthy",
		Help: "1 while the node is healthy (every check up, link up) and so may hold the VIP, else 0."})
	m.apiReachable = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "api_reachable",
		Help: "1 while the API server answers the watchdog's /readyz probe, else 0."})
	m.apiRecoveries = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "api_recoveries_total",
		Help: "Times the API server became reachable again after an outage."})
	m.doctorFindings = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "doctor", Name: "findings",
		Help: "Findings of the last doctor check of the node's kernel settings, by severity."}, []string{"severity"})
	m.serviceVIPs = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "services", Name: "addresses",
		Help: "LoadBalancer Service addresses: allocated in the cluster (all nodes agree), claimed by this node, bound on this node."}, []string{"state"})
	m.allocator = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "services", Name: "allocator",
		Help: "1 while this node holds the allocator role (allocates addresses and writes Service statuses)."})
	m.poolAddresses = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "services", Name: "pool_addresses",
		Help: "Addresses of a LoadBalancer pool and family: usable in total, and allocated; exported by the allocator node only."}, []string{"pool", "family", "state"})
	m.poolsDiffer = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "services", Name: "pools_differ",
		Help: "1 while this node's --services-pool flags differ from the allocator node's (every node must run the same pools)."})
	m.poolLinkUp = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "services", Name: "pool_interface_up",
		Help: "1 while a link an AddressPool names (spec.interface) is up on this node, else 0: the node announces that pool's addresses only while it is up."}, []string{"interface"})
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "build_info",
		Help: "Always 1; the labels say which build runs."}, []string{"version", "commit", "goversion"})
	build.WithLabelValues(cfg.Build.Version, cfg.Build.Commit, cfg.Build.GoVersion).Set(1)

	for _, c := range []prometheus.Collector{leader, m.leaderTransitions, m.leaderSince, m.renewDuration, m.renewFailures,
		m.vipBound, m.vipBind, m.vipUnbind, m.vipRestored, m.vipContested, m.probeSuccess, m.probeDuration, m.healthy,
		m.apiReachable, m.apiRecoveries, m.doctorFindings, m.serviceVIPs, m.allocator, m.poolAddresses, m.poolsDiffer, m.poolLinkUp, build} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}

	if cfg.APIServerCheck {
		m.apiServerReady = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "api_server_ready",
			Help: "1 while this node's own API server answers its /readyz check (--api-server-check), else 0; the node is a candidate for the VIP only then."})
		if err := reg.Register(m.apiServerReady); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}

	// Start every known series at zero, so rates and absences work from
	// the first scrape.
	for _, a := range cfg.VIPs {
		if f := Family(a); !slices.Contains(m.families, f) {
			m.families = append(m.families, f)
			m.vipBound.WithLabelValues(f)
		}
	}
	for _, r := range keeper.Reasons() {
		m.vipUnbind.WithLabelValues(string(r))
	}
	m.vipUnbind.WithLabelValues(reasonOther)
	m.SetHealthy(cfg.Healthy)
	m.apiReachable.Set(1)
	return m, nil
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
