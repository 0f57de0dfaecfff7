// Package metrics defines vipkeeper's Prometheus metrics and feeds them from
// the daemon's hooks.
//
// Every family is vipkeeper_<subsystem>_<name>, registered on a registry the
// caller passes in (never the global default one). Label values come from
// small fixed sets: the lease's namespace/name, the address family (ipv4,
// ipv6), an unbind reason from keeper.Reasons, an announcement protocol and
// trigger, a health check's configured name, a doctor severity, a
// configured services pool's name. No address ever becomes a label.
//
// A *Metrics is fed through small interfaces declared by the packages that
// call them: keeper.Observer (Observe), election.Observer (LeaseWrite), the
// health prober's Observe function (ObserveProbe), and plain setters for the
// watchdog (SetAPIReachable), the aggregate health (SetHealthy), the check
// of the local API server (SetAPIServerReady) and the
// doctor (SetDoctorFindings). The announcer's and the guard's counters are
// read at scrape time from their Stats methods by custom collectors
// (AddAnnouncer, AddGuard), so nothing in the send or receive path touches
// a metric.
//
// docs/metrics.md lists every family with its meaning and sample alerts.
package metrics
