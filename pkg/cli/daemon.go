package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"

	"k8s.io/klog/v2"

	"github.com/vipkeeper/vipkeeper/pkg/announce"
	"github.com/vipkeeper/vipkeeper/pkg/apicheck"
	"github.com/vipkeeper/vipkeeper/pkg/config"
	"github.com/vipkeeper/vipkeeper/pkg/doctor"
	"github.com/vipkeeper/vipkeeper/pkg/election"
	"github.com/vipkeeper/vipkeeper/pkg/guard"
	"github.com/vipkeeper/vipkeeper/pkg/health"
	"github.com/vipkeeper/vipkeeper/pkg/keeper"
	"github.com/vipkeeper/vipkeeper/pkg/kube"
	"github.com/vipkeeper/vipkeeper/pkg/links"
	"github.com/vipkeeper/vipkeeper/pkg/metrics"
	"github.com/vipkeeper/vipkeeper/pkg/sdnotify"
	"github.com/vipkeeper/vipkeeper/pkg/version"
	"github.com/vipkeeper/vipkeeper/pkg/vip"
	"github.com/vipkeeper/vipkeeper/pkg/watchdog"
	"github.com/vipkeeper/vipkeeper/pkg/witness"
)

// daemon is `vipkeeper run` wired up: built by newDaemon, which starts
// nothing, and run by run.
type daemon struct {
	log        *slog.Logger
	keeper     *keeper.Keeper
	components []func(context.Context) error // run beside the keeper, stopped after it
	draining   []func()                      // told when shutdown begins, before the keeper unbinds
}

// newDaemon builds the daemon in dependency order: the API connection and
// what operators watch, the loops' inboxes, the components that report to
// them, the services loop, the watchdog and last the keeper.
func newDaemon(cfg *config.Config, logOut io.Writer) (*daemon, error) {
	if err := cfg.CheckHost(vip.ForeignAddrs, os.LookupEnv); err != nil {
		return nil, err
	}
	log := newLogger(logOut, cfg.LogLevel, cfg.LogFormat).With("node", cfg.NodeName)
	klog.SetSlogLogger(log.With("component", "client-go"))
	conn, err := connect(cfg, log)
	if err != nil {
		return nil, err
	}
	obs, err := newObservability(cfg, conn.Events, log)
	if err != nil {
		return nil, err
	}
	to := newReports(obs.metrics, cfg.VIPs, cfg.Services)

	binder := vip.New(vip.Config{Interface: cfg.Interface, ReconcileInterval: cfg.ReconcileInterval, OnRestored: to.keeper.Restored}, log)
	ann := announce.New(announce.Config{Interface: cfg.Interface, RefreshInterval: cfg.AnnounceRefresh}, log)
	grd := guard.New(guard.Config{Interface: cfg.Interface}, log)
	lk := newLinks(cfg, to, binder, ann, grd, log)
	prober, err := health.New(obs.healthConfig(cfg.Health), to.health, log)
	if err != nil {
		return nil, flagError(cfg, err)
	}
	local, err := newAPIServerCheck(cfg, to, log)
	if err != nil {
		return nil, err
	}
	// The elections' answers are the watchdog's evidence; the watchdog is
	// built after them (its reactions restart them) and before anything
	// starts.
	var wd *watchdog.Watchdog
	heard := func(ok bool) { wd.Heard(ok) }
	el := election.New(leaseConfig(cfg, obs.metrics, heard), conn.Leases.CoordinationV1(), conn.Watch.CoordinationV1(), to.keeper.Notify, log)
	outage := watchdog.Reactions{Conns: conn, Elections: []watchdog.Campaign{el}, Report: to.apiReachable()}
	var svcComponents []func(context.Context) error
	var draining []func()
	if cfg.Services {
		svc, nodeLease, err := newServices(cfg, conn, to, lk, obs.metrics, heard, log)
		if err != nil {
			return nil, err
		}
		outage.Elections = append(outage.Elections, nodeLease)
		svcComponents = append(svcComponents, servicesStart(cfg, conn, svc, log))
		draining = append(draining, to.services.Drain)
	}
	wd = watchdog.New(watchdogConfig(cfg), conn.Readyz, outage, log)
	k := keeper.New(keeperConfig(cfg), keeper.Deps{Binder: lk, Announcer: lk, Election: el, Guard: guardAdapter{lk},
		Elect: obs.elect(el.Start), Observer: obs.observer()}, to.keeper, log.With("lease", cfg.LeaseNamespace+"/"+cfg.LeaseName))
	if err := obs.watch(to.keeper, wd, ann, grd); err != nil {
		return nil, err
	}
	wit, err := newWitness(cfg, to, lk, obs.metrics, log)
	if err != nil {
		return nil, err
	}
	if err := obs.metrics.AddLifetimes(metrics.Lifetimes{VIPs: cfg.VIPs, Deadlines: k.Deadlines, Expired: binder.Expired}); err != nil {
		return nil, err
	}

	findings := doctor.Check(context.Background(), doctor.Options{Interface: cfg.Interface})
	logFindings(log, findings)
	obs.setFindings(findings)
	v := version.Get()
	log.Info("starting", "version", v.Version, "commit", v.Commit, "vip", cfg.VIPs, "interface", cfg.Interface,
		"lease", cfg.LeaseNamespace+"/"+cfg.LeaseName, "lease_duration", cfg.LeaseDuration,
		"renew_deadline", cfg.RenewDeadline, "retry_period", cfg.RetryPeriod)
	components := []func(context.Context) error{
		binder.Start, ann.Start, wd.Start, grd.Start, prober.Start, to.forwardClaims(grd.Claims()), lk.Start,
		sdnotify.New(to.keeper.Ping, log).Start, // READY=1 and WATCHDOG=1 under systemd
	}
	if local != nil {
		components = append(components, local.Start)
	}
	return &daemon{log: log, keeper: k, draining: draining,
		components: append(components, append(append(obs.components(), wit...), svcComponents...)...)}, nil
}

// newAPIServerCheck builds the check of this node's own API server (the
// first --api-server) with --api-server-check, else nil. Its client
// reaches that server alone, with the election's trust; a kubeconfig
// that cannot verify it is refused here, naming the flag.
func newAPIServerCheck(cfg *config.Config, to reports, log *slog.Logger) (*apicheck.Checker, error) {
	c := cfg.APIServerCheck
	if !c.Enabled {
		return nil, nil
	}
	server := cfg.APIServers[0] // config requires one with the check
	client, err := kube.LocalClient(kube.LocalOptions{Kubeconfig: cfg.Kubeconfig, Server: server, Node: cfg.NodeName,
		Purpose: "api-server-check", Timeout: c.Timeout})
	if err != nil {
		return nil, flagError(cfg, err)
	}
	return apicheck.New(apicheck.Config{Server: server, Interval: c.Interval, Timeout: c.Timeout, Rise: c.Rise, Fall: c.Fall},
		client, to.apiServer, log)
}

// newWitness builds the witness on the VIP's interface (--witness peers):
// its evidence goes to the keeper and, with the other planes' (pkg/links),
// to the services loop; its figures to the metrics. It returns the
// component to start, none with --witness none.
func newWitness(cfg *config.Config, to reports, lk *links.Links, m *metrics.Metrics, log *slog.Logger) ([]func(context.Context) error, error) {
	if cfg.Witness != "peers" {
		return nil, nil
	}
	report := []func(time.Time){to.keeper.Witness}
	if to.services != nil {
		report = append(report, lk.Heard(cfg.Interface))
	}
	wc := witnessConfig(cfg, cfg.Interface, report)
	w := witness.New(wc, log)
	if err := m.AddWitness(metrics.Witness{Peers: w.Peers, Heard: w.Heard, Window: wc.Window}); err != nil {
		return nil, err
	}
	return []func(context.Context) error{w.Start}, nil
}

// leaseConfig is the control-plane Lease's election.
func leaseConfig(cfg *config.Config, obs election.Observer, heard func(ok bool)) election.Config {
	return election.Config{
		LeaseName:      cfg.LeaseName,
		LeaseNamespace: cfg.LeaseNamespace,
		Identity:       cfg.NodeName,
		LeaseDuration:  cfg.LeaseDuration,
		RenewDeadline:  cfg.RenewDeadline,
		RetryPeriod:    cfg.RetryPeriod,
		Observer:       obs,
		Heard:          heard,
	}
}

// keeperConfig is the keeper's share of the configuration.
func keeperConfig(cfg *config.Config) keeper.Config {
	return keeper.Config{
		Identity:      cfg.NodeName,
		VIPs:          cfg.VIPs,
		LeaseDuration: cfg.LeaseDuration,
		SafetyMargin:  cfg.SafetyMargin,
		RenewDeadline: cfg.RenewDeadline,
		RetryPeriod:   cfg.RetryPeriod,
		OnOutage:      keeper.OutagePolicy(cfg.APIOutage),
		ProbeWait:     cfg.TakeoverProbe,
		ProbeBudget:   probeBudget,
		Lateness:      vip.DefaultLateness,
		WitnessWindow: witnessWindow(cfg),
		// With checks configured, a node earns its candidacy with
		// --health-rise good probes; without, only the link decides.
		Healthy: len(cfg.Health.Checks) == 0,
		// With the check, a node earns its candidacy once its own API
		// server is ready (--api-server-check-rise good checks).
		CheckAPIServer: cfg.APIServerCheck.Enabled,
		// The release is one GET and one UPDATE, each bounded by the lease
		// client's timeout (renew deadline / 2).
		ReleaseTimeout: cfg.RenewDeadline + time.Second,
	}
}

// logFindings logs, once at start-up, what `vipkeeper doctor` would report
// about the node's settings. A finding never stops the daemon.
func logFindings(log *slog.Logger, findings []doctor.Finding) {
	log = log.With("component", "doctor")
	for _, f := range findings {
		level := slog.LevelDebug
		switch f.Severity {
		case doctor.Info:
			level = slog.LevelInfo
		case doctor.Warning, doctor.Error:
			level = slog.LevelWarn
		}
		log.Log(context.Background(), level, "node setting", "check", f.Check, "setting", f.Setting,
			"current", f.Current, "recommended", f.Recommended, "severity", f.Severity.String(), "why", f.Why)
	}
}

// guardAdapter gives the keeper the guard's answers as the MACs of hosts
// that say they hold the VIP.
type guardAdapter struct{ g claimProber }

// claimProber watches for claims and probes (pkg/guard, per interface
// through pkg/links).
type claimProber interface {
	Watch(addrs []netip.Addr)
	Probe(ctx context.Context, addrs []netip.Addr, wait time.Duration) ([]guard.Claim, error)
}

func (a guardAdapter) Watch(addrs []netip.Addr) { a.g.Watch(addrs) }

func (a guardAdapter) Probe(ctx context.Context, addrs []netip.Addr, wait time.Duration) ([]net.HardwareAddr, error) {
	answers, err := probeAnswers(ctx, a.g, addrs, wait)
	holders := make([]net.HardwareAddr, len(answers))
	for i, c := range answers {
		holders[i] = c.MAC
	}
	return holders, err
}

// probeAnswers probes addrs and keeps the answers of hosts that say they
// hold an address. Another node's probe at the same moment is not an
// answer: it does not hold the address either.
func probeAnswers(ctx context.Context, g claimProber, addrs []netip.Addr, wait time.Duration) ([]guard.Claim, error) {
	claims, err := g.Probe(ctx, addrs, wait)
	return slices.DeleteFunc(claims, func(c guard.Claim) bool { return c.Kind == guard.KindProbe }), err
}

// probeBudget bounds how long a new leader waits for a previous holder
// that still answers for the VIP to yield; a holder that never yields is a
// crashed daemon whose kernel still has the address, and the announcements
// then win the clients over.
const probeBudget = time.Second

// watchdogConfig paces the API watchdog from the lease timings: a verdict
// twice per retry period, within 200ms to 1s. Two failed probes in a row
// make the API unreachable, since one lost probe is noise; the same count
// paces every further failover (see pkg/watchdog). The daemon's own Lease
// traffic stands in for the probes while it is fresh, for as long as an
// API server that hangs right after a renewal's answer is still judged
// unreachable before the holder's deadline: the budget is the lease
// duration less the safety margin and the slowest answer a renewal may
// get (renew deadline / 2, the lease client's timeout). See
// docs/safety.md, "Knowing the API server is unreachable".
func watchdogConfig(cfg *config.Config) watchdog.Config {
	const failAfter = 2
	interval := min(max(cfg.RetryPeriod/2, 200*time.Millisecond), time.Second)
	budget := cfg.LeaseDuration - cfg.SafetyMargin - cfg.RenewDeadline/2
	return watchdog.Config{Interval: interval, Timeout: min(interval, cfg.RenewDeadline/2), FailAfter: failAfter,
		Fresh: watchdog.EvidenceWindow(cfg.RetryPeriod, interval, failAfter, budget)}
}

// run blocks until ctx ends (a signal) or a component fails. The keeper
// shuts down first — unbind, then release the lease — while the binder and
// announcer still run; they stop after it.
func (d *daemon) run(ctx context.Context) error {
	compCtx, stopComponents := context.WithCancel(context.Background())
	defer stopComponents()
	keeperCtx, stopKeeper := context.WithCancel(ctx)
	defer stopKeeper()

	var wg sync.WaitGroup
	var mu sync.Mutex // guards failure
	var failure error
	for _, start := range d.components {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := start(compCtx); err != nil && compCtx.Err() == nil {
				mu.Lock()
				failure = errors.Join(failure, err)
				mu.Unlock()
				stopKeeper()
			}
		}()
	}
	go func() {
		select {
		case <-keeperCtx.Done():
			for _, drain := range d.draining {
				drain()
			}
		case <-compCtx.Done():
		}
	}()
	err := d.keeper.Start(keeperCtx)
	stopComponents()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if err := errors.Join(failure, err); err != nil {
		return err
	}
	d.log.Info("stopped")
	return nil
}
