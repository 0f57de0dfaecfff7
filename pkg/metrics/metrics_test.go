package metrics

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"

	"github.com/vipkeeper/vipkeeper/pkg/announce"
	"github.com/vipkeeper/vipkeeper/pkg/guard"
	"github.com/vipkeeper/vipkeeper/pkg/keeper"
	"github.com/vipkeeper/vipkeeper/pkg/services/ipam"
	"github.com/vipkeeper/vipkeeper/pkg/version"
)

var vips = []netip.Addr{netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("2001:db8::100")}

func newTest(t *testing.T) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := New(reg, Config{
		Lease:   "kube-system/vipkeeper",
		VIPs:    vips,
		Build:   version.Info{Version: "v1.2.3", Commit: "abc123", GoVersion: "go1.26.8"},
		Healthy: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

func compare(t *testing.T, reg prometheus.Gatherer, want string, names ...string) {
	t.Helper()
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

func TestInitialValues(t *testing.T) {
	_, reg := newTest(t)
	compare(t, reg, `
# HELP vipkeeper_build_info Always 1; the labels say which build runs.
# TYPE vipkeeper_build_info gauge
vipkeeper_build_info{commit="abc123",goversion="go1.26.8",version="v1.2.3"} 1
# HELP vipkeeper_leader 1 while this node holds the lease, else 0.
# TYPE vipkeeper_leader gauge
vipkeeper_leader{lease="kube-system/vipkeeper"} 0
# HELP vipkeeper_vip_bound 1 while this node holds the VIP of the address family, else 0.
# TYPE vipkeeper_vip_bound gauge
vipkeeper_vip_bound{family="ipv4"} 0
vipkeeper_vip_bound{family="ipv6"} 0
# HELP vipkeeper_healthy 1 while the node is healthy (every check up, link up) and so may hold the VIP, else 0.
# TYPE vipkeeper_healthy gauge
vipkeeper_healthy 1
# HELP vipkeeper_api_reachable 1 while the API server answers the watchdog's /readyz probe, else 0.
# TYPE vipkeeper_api_reachable gauge
vipkeeper_api_reachable 1
`, "vipkeeper_build_info", "vipkeeper_leader", "vipkeeper_vip_bound", "vipkeeper_healthy", "vipkeeper_api_reachable")
	if n, err := testutil.GatherAndCount(reg, "vipkeeper_vip_unbind_total"); err != nil || n != len(keeper.Reasons())+1 {
		t.Errorf("%d unbind reasons at start (%v), want every keeper reason and other (%d)", n, err, len(keeper.Reasons())+1)
	}
}

func TestLeadership(t *testing.T) {
	m, reg := newTest(t)
	at := time.Unix(1700000000, 500_000_000)
	m.Observe(keeper.Transition{Change: keeper.Acquired, At: at, VIPs: vips, Term: 1})
	m.Observe(keeper.Transition{Change: keeper.Bound, At: at, VIPs: vips, Took: 3 * time.Millisecond})
	compare(t, reg, `
# HELP vipkeeper_leader 1 while this node holds the lease, else 0.
# TYPE vipkeeper_leader gauge
vipkeeper_leader{lease="kube-system/vipkeeper"} 1
# HELP vipkeeper_leader_since_timestamp_seconds Unix time at which this node last acquired the lease; 0 while it does not hold it.
# TYPE vipkeeper_leader_since_timestamp_seconds gauge
vipkeeper_leader_since_timestamp_seconds 1.7000000005e+09
# HELP vipkeeper_leader_transitions_total Changes of vipkeeper_leader on this node: acquisitions and losses of the lease.
# TYPE vipkeeper_leader_transitions_total counter
vipkeeper_leader_transitions_total 1
# HELP vipkeeper_vip_bind_total Times this node bound the VIP after winning the lease.
# TYPE vipkeeper_vip_bind_total counter
vipkeeper_vip_bind_total 1
# HELP vipkeeper_vip_bound 1 while this node holds the VIP of the address family, else 0.
# TYPE vipkeeper_vip_bound gauge
vipkeeper_vip_bound{family="ipv4"} 1
vipkeeper_vip_bound{family="ipv6"} 1
`, "vipkeeper_leader", "vipkeeper_leader_since_timestamp_seconds", "vipkeeper_leader_transitions_total",
		"vipkeeper_vip_bind_total", "vipkeeper_vip_bound")

	m.Observe(keeper.Transition{Change: keeper.Restored, VIPs: vips[:1]})
	m.Observe(keeper.Transition{Change: keeper.Unbound, VIPs: vips, Reason: keeper.ReasonUnhealthy, Detail: "link down"})
	m.Observe(keeper.Transition{Change: keeper.Lost, VIPs: vips, Term: 1})
	m.Observe(keeper.Transition{Change: keeper.Unbound, VIPs: vips, Reason: "made up"})
	compare(t, reg, `
# HELP vipkeeper_leader 1 while this node holds the lease, else 0.
# TYPE vipkeeper_leader gauge
vipkeeper_leader{lease="kube-system/vipkeeper"} 0
# HELP vipkeeper_leader_since_timestamp_seconds Unix time at which this node last acquired the lease; 0 while it does not hold it.
# TYPE vipkeeper_leader_since_timestamp_seconds gauge
vipkeeper_leader_since_timestamp_seconds 0
# HELP vipkeeper_leader_transitions_total Changes of vipkeeper_leader on this node: acquisitions and losses of the lease.
# TYPE vipkeeper_leader_transitions_total counter
vipkeeper_leader_transitions_total 2
# HELP vipkeeper_vip_bound 1 while this node holds the VIP of the address family, else 0.
# TYPE vipkeeper_vip_bound gauge
vipkeeper_vip_bound{family="ipv4"} 0
vipkeeper_vip_bound{family="ipv6"} 0
# HELP vipkeeper_vip_restored_total Times the VIP was re-added after something else removed it from the interface.
# TYPE vipkeeper_vip_restored_total counter
vipkeeper_vip_restored_total 1
# HELP vipkeeper_vip_unbind_total Times this node withdrew the VIP, by reason.
# TYPE vipkeeper_vip_unbind_total counter
vipkeeper_vip_unbind_total{reason="api_back_not_renewed"} 0
vipkeeper_vip_unbind_total{reason="api_server_not_ready"} 0
vipkeeper_vip_unbind_total{reason="api_unreachable"} 0
vipkeeper_vip_unbind_total{reason="claimed"} 0
vipkeeper_vip_unbind_total{reason="deadline"} 0
vipkeeper_vip_unbind_total{reason="election_stopped"} 0
vipkeeper_vip_unbind_total{reason="lease_lost"} 0
vipkeeper_vip_unbind_total{reason="other"} 1
vipkeeper_vip_unbind_total{reason="other_leader"} 0
vipkeeper_vip_unbind_total{reason="shutdown"} 0
vipkeeper_vip_unbind_total{reason="startup"} 0
vipkeeper_vip_unbind_total{reason="unhealthy"} 1
`, "vipkeeper_leader", "vipkeeper_leader_since_timestamp_seconds", "vipkeeper_leader_transitions_total",
		"vipkeeper_vip_bound", "vipkeeper_vip_restored_total", "vipkeeper_vip_unbind_total")
}

func TestLeaseWrites(t *testing.T) {
	m, reg := newTest(t)
	m.LeaseWrite(3*time.Millisecond, nil)
	m.LeaseWrite(40*time.Millisecond, nil)
	m.LeaseWrite(1500*time.Millisecond, errors.New("context deadline exceeded"))
	compare(t, reg, `
# HELP vipkeeper_lease_renew_duration_seconds Duration of the Lease writes that name this node (acquisition and renewal attempts), failed ones included.
# TYPE vipkeeper_lease_renew_duration_seconds histogram
vipkeeper_lease_renew_duration_seconds_bucket{le="0.005"} 1
vipkeeper_lease_renew_duration_seconds_bucket{le="0.01"} 1
vipkeeper_lease_renew_duration_seconds_bucket{le="0.025"} 1
vipkeeper_lease_renew_duration_seconds_bucket{le="0.05"} 2
vipkeeper_lease_renew_duration_seconds_bucket{le="0.1"} 2
vipkeeper_lease_renew_duration_seconds_bucket{le="0.25"} 2
vipkeeper_lease_renew_duration_seconds_bucket{le="0.5"} 2
vipkeeper_lease_renew_duration_seconds_bucket{le="1"} 2
vipkeeper_lease_renew_duration_seconds_bucket{le="1.5"} 3
vipkeeper_lease_renew_duration_seconds_bucket{le="2.5"} 3
vipkeeper_lease_renew_duration_seconds_bucket{le="5"} 3
vipkeeper_lease_renew_duration_seconds_bucket{le="+Inf"} 3
vipkeeper_lease_renew_duration_seconds_sum 1.543
vipkeeper_lease_renew_duration_seconds_count 3
# HELP vipkeeper_lease_renew_failures_total Lease writes naming this node that failed (timeout, conflict, API error).
# TYPE vipkeeper_lease_renew_failures_total counter
vipkeeper_lease_renew_failures_total 1
`, "vipkeeper_lease_renew_duration_seconds", "vipkeeper_lease_renew_failures_total")
}

func TestHealthAPIAndDoctor(t *testing.T) {
	m, reg := newTest(t)
	m.ObserveProbe("http-0", true, 12*time.Millisecond)
	m.ObserveProbe("icmp-0", false, time.Second)
	m.SetHealthy(false)
	m.SetAPIReachable(false)
	m.SetAPIReachable(false)
	m.SetAPIReachable(true)
	m.SetAPIReachable(true)
	m.SetDoctorFindings(map[string]int{"warning": 2})
	compare(t, reg, `
# HELP vipkeeper_api_reachable 1 while the API server answers the watchdog's /readyz probe, else 0.
# TYPE vipkeeper_api_reachable gauge
vipkeeper_api_reachable 1
# HELP vipkeeper_api_recoveries_total Times the API server became reachable again after an outage.
# TYPE vipkeeper_api_recoveries_total counter
vipkeeper_api_recoveries_total 1
# HELP vipkeeper_doctor_findings Findings of the last doctor check of the node's kernel settings, by severity.
# TYPE vipkeeper_doctor_findings gauge
vipkeeper_doctor_findings{severity="error"} 0
vipkeeper_doctor_findings{severity="info"} 0
vipkeeper_doctor_findings{severity="warning"} 2
# HELP vipkeeper_health_probe_duration_seconds Duration of the last probe of the health check.
# TYPE vipkeeper_health_probe_duration_seconds gauge
vipkeeper_health_probe_duration_seconds{check="http-0"} 0.012
vipkeeper_health_probe_duration_seconds{check="icmp-0"} 1
# HELP vipkeeper_health_probe_success 1 if the last probe of the health check succeeded, else 0.
# TYPE vipkeeper_health_probe_success gauge
vipkeeper_health_probe_success{check="http-0"} 1
vipkeeper_health_probe_success{check="icmp-0"} 0
# HELP vipkeeper_healthy 1 while the node is healthy (every check up, link up) and so may hold the VIP, else 0.
# TYPE vipkeeper_healthy gauge
vipkeeper_healthy 0
`, "vipkeeper_api_reachable", "vipkeeper_api_recoveries_total", "vipkeeper_doctor_findings",
		"vipkeeper_health_probe_duration_seconds", "vipkeeper_health_probe_success", "vipkeeper_healthy")
}

func TestAnnouncer(t *testing.T) {
	m, reg := newTest(t)
	stats := map[announce.StatsKey]announce.Counts{
		{Protocol: announce.ProtocolARP, Trigger: announce.TriggerTakeover}: {Packets: 10, Errors: 1},
		{Protocol: announce.ProtocolNDP, Trigger: announce.TriggerRefresh}:  {Packets: 3, Errors: 2},
	}
	if err := m.AddAnnouncer(func() map[announce.StatsKey]announce.Counts { return stats }); err != nil {
		t.Fatal(err)
	}
	compare(t, reg, `
# HELP vipkeeper_announce_errors_total Announcements of one address in one round that failed (socket or interface errors).
# TYPE vipkeeper_announce_errors_total counter
vipkeeper_announce_errors_total 3
# HELP vipkeeper_announce_sent_total Gratuitous ARP and unsolicited NA packets sent, by protocol and by why they were sent.
# TYPE vipkeeper_announce_sent_total counter
vipkeeper_announce_sent_total{protocol="arp",trigger="refresh"} 0
vipkeeper_announce_sent_total{protocol="arp",trigger="takeover"} 10
vipkeeper_announce_sent_total{protocol="ndp",trigger="refresh"} 3
vipkeeper_announce_sent_total{protocol="ndp",trigger="takeover"} 0
# HELP vipkeeper_announcements_sent_total Deprecated: use vipkeeper_announce_sent_total, the same counter; this name goes in the next release. Gratuitous ARP and unsolicited NA packets sent, by protocol and by why they were sent.
# TYPE vipkeeper_announcements_sent_total counter
vipkeeper_announcements_sent_total{protocol="arp",trigger="refresh"} 0
vipkeeper_announcements_sent_total{protocol="arp",trigger="takeover"} 10
vipkeeper_announcements_sent_total{protocol="ndp",trigger="refresh"} 3
vipkeeper_announcements_sent_total{protocol="ndp",trigger="takeover"} 0
`, "vipkeeper_announce_errors_total", "vipkeeper_announce_sent_total", "vipkeeper_announcements_sent_total")
	if err := m.AddAnnouncer(func() map[announce.StatsKey]announce.Counts { return nil }); err == nil {
		t.Error("a second announcer collector registered without error")
	}
}

func TestGuard(t *testing.T) {
	m, reg := newTest(t)
	stats := guard.Stats{Reported: 4, Dropped: 2, Opens: 3, Errors: 1}
	if err := m.AddGuard(func() guard.Stats { return stats }); err != nil {
		t.Fatal(err)
	}
	compare(t, reg, `
# HELP vipkeeper_guard_claims_dropped_total Claims on a held VIP dropped because the queue of claims not yet acted upon was full.
# TYPE vipkeeper_guard_claims_dropped_total counter
vipkeeper_guard_claims_dropped_total 2
# HELP vipkeeper_guard_claims_reported_total Claims on a held VIP seen on the wire from another MAC and passed on to be acted upon.
# TYPE vipkeeper_guard_claims_reported_total counter
vipkeeper_guard_claims_reported_total 4
# HELP vipkeeper_guard_listener_errors_total Failures to open the guard's listeners and read errors on them; claims go unseen until they are reopened.
# TYPE vipkeeper_guard_listener_errors_total counter
vipkeeper_guard_listener_errors_total 1
# HELP vipkeeper_guard_listener_opens_total Times the guard opened its ARP and NDP listeners: once at start, again after a failure or when the interface was re-created.
# TYPE vipkeeper_guard_listener_opens_total counter
vipkeeper_guard_listener_opens_total 3
`, "vipkeeper_guard_claims_dropped_total", "vipkeeper_guard_claims_reported_total",
		"vipkeeper_guard_listener_errors_total", "vipkeeper_guard_listener_opens_total")
	if err := m.AddGuard(func() guard.Stats { return guard.Stats{} }); err == nil {
		t.Error("a second guard collector registered without error")
	}
}

func TestPoolUsage(t *testing.T) {
	m, reg := newTest(t)
	const help = `# HELP vipkeeper_services_pool_addresses Addresses of a LoadBalancer pool and family: usable in total, and allocated; exported by the allocator node only.
# TYPE vipkeeper_services_pool_addresses gauge
`
	m.SetPoolUsage([]ipam.PoolUsage{
		{Pool: "default", Family: corev1.IPv4Protocol, Size: 254, Used: 3},
		{Pool: "default", Family: corev1.IPv6Protocol, Size: 1 << 64, Used: 2},
		{Pool: "edge", Family: corev1.IPv4Protocol, Size: 16},
	})
	compare(t, reg, help+`
vipkeeper_services_pool_addresses{family="ipv4",pool="default",state="allocated"} 3
vipkeeper_services_pool_addresses{family="ipv4",pool="default",state="total"} 254
vipkeeper_services_pool_addresses{family="ipv4",pool="edge",state="allocated"} 0
vipkeeper_services_pool_addresses{family="ipv4",pool="edge",state="total"} 16
vipkeeper_services_pool_addresses{family="ipv6",pool="default",state="allocated"} 2
vipkeeper_services_pool_addresses{family="ipv6",pool="default",state="total"} 1.8446744073709552e+19
`, "vipkeeper_services_pool_addresses")

	m.SetPoolUsage([]ipam.PoolUsage{{Pool: "edge", Family: corev1.IPv4Protocol, Size: 16, Used: 1}})
	compare(t, reg, help+`
vipkeeper_services_pool_addresses{family="ipv4",pool="edge",state="allocated"} 1
vipkeeper_services_pool_addresses{family="ipv4",pool="edge",state="total"} 16
`, "vipkeeper_services_pool_addresses")

	m.SetPoolUsage(nil) // the allocator role moved away
	if n, err := testutil.GatherAndCount(reg, "vipkeeper_services_pool_addresses"); err != nil || n != 0 {
		t.Errorf("%d pool series after SetPoolUsage(nil) (%v), want 0", n, err)
	}
}

// Every family follows the naming rules promlint checks (units, _total on
// counters), and the registry with the runtime collectors gathers cleanly.
func TestLintAndRuntime(t *testing.T) {
	reg := NewRegistry()
	m, err := New(reg, Config{Lease: "ns/l", VIPs: vips})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.AddAnnouncer(func() map[announce.StatsKey]announce.Counts { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := m.AddGuard(func() guard.Stats { return guard.Stats{} }); err != nil {
		t.Fatal(err)
	}
	m.SetPoolUsage([]ipam.PoolUsage{{Pool: "default", Family: corev1.IPv4Protocol, Size: 254, Used: 1}})
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "vipkeeper_") {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "go_goroutines", "process_start_time_seconds"); err != nil || n == 0 {
		t.Errorf("runtime collectors: %d series, %v", n, err)
	}
	if _, err := New(reg, Config{}); err == nil {
		t.Error("registering the families twice did not fail")
	}
}

// TestAPIServerReady: the family exists only with the check, starts at
// 0 and follows the check's reports.
func TestAPIServerReady(t *testing.T) {
	m, reg := newTest(t)
	m.SetAPIServerReady(true) // no family: nothing to set
	if n, err := testutil.GatherAndCount(reg, "vipkeeper_api_server_ready"); err != nil || n != 0 {
		t.Errorf("without the check: %d series (%v), want none", n, err)
	}

	reg = prometheus.NewRegistry()
	m, err := New(reg, Config{Lease: "kube-system/vipkeeper", VIPs: vips, APIServerCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	const head = `
# HELP vipkeeper_api_server_ready 1 while this node's own API server answers its /readyz check (--api-server-check), else 0; the node is a candidate for the VIP only then.
# TYPE vipkeeper_api_server_ready gauge
`
	compare(t, reg, head+"vipkeeper_api_server_ready 0\n", "vipkeeper_api_server_ready")
	m.SetAPIServerReady(true)
	compare(t, reg, head+"vipkeeper_api_server_ready 1\n", "vipkeeper_api_server_ready")
	m.SetAPIServerReady(false)
	compare(t, reg, head+"vipkeeper_api_server_ready 0\n", "vipkeeper_api_server_ready")
}
