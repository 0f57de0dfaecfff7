package cli

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/vipkeeper/vipkeeper/pkg/announce"
	"github.com/vipkeeper/vipkeeper/pkg/config"
	"github.com/vipkeeper/vipkeeper/pkg/guard"
	"github.com/vipkeeper/vipkeeper/pkg/health"
	"github.com/vipkeeper/vipkeeper/pkg/links"
	"github.com/vipkeeper/vipkeeper/pkg/vip"
	"github.com/vipkeeper/vipkeeper/pkg/witness"
)

// newLinks builds the router of the node's data planes (pkg/links): the
// plane of --interface, whose parts newDaemon built and runs with their
// metrics, and one plane per other interface an AddressPool names, built
// when a pool first names it. In services mode the witness evidence of
// all planes goes to the services loop, and the pools' links are watched
// for it.
func newLinks(cfg *config.Config, to reports, binder *vip.Binder, ann *announce.Announcer, grd *guard.Guard, log *slog.Logger) *links.Links {
	lc := links.Config{
		Default: cfg.Interface,
		Plane:   links.Plane{Binder: binder, Announcer: ann, Guard: grd},
		Build: func(iface string, heard func(time.Time)) links.Plane {
			return newPlane(cfg, to, iface, heard, log)
		},
	}
	if to.services != nil {
		lc.Report = []func(time.Time){to.services.Witness}
		lc.WatchLink = func(ctx context.Context, iface string, report func(bool, string)) {
			health.WatchLink(ctx, iface, report, log.With("component", "links"))
		}
		lc.OnLink = func(iface string, up bool) {
			to.metrics.PoolLink(iface, up)
			to.services.LinkState(iface, up)
		}
	}
	return links.New(lc, log)
}

// newPlane is the data plane of a pool's interface: a binder, an
// announcer, a guard whose claims go where the default guard's do, and,
// with --witness peers, a witness that beacons and listens there.
func newPlane(cfg *config.Config, to reports, iface string, heard func(time.Time), log *slog.Logger) links.Plane {
	b := vip.New(vip.Config{Interface: iface, ReconcileInterval: cfg.ReconcileInterval, OnRestored: to.keeper.Restored}, log)
	a := announce.New(announce.Config{Interface: iface, RefreshInterval: cfg.AnnounceRefresh}, log)
	g := guard.New(guard.Config{Interface: iface}, log)
	run := []func(context.Context) error{b.Start, a.Start, g.Start, to.forwardClaims(g.Claims())}
	if cfg.Witness == "peers" {
		run = append(run, witness.New(witnessConfig(cfg, iface, []func(time.Time){heard}), log).Start)
	}
	return links.Plane{Binder: b, Announcer: a, Guard: g, Start: func(ctx context.Context) error {
		var wg sync.WaitGroup
		errs := make([]error, len(run))
		for i, start := range run {
			wg.Go(func() { errs[i] = start(ctx) })
		}
		wg.Wait()
		return errors.Join(errs...)
	}}
}

// witnessConfig is the witness of iface (--witness peers), reporting to
// report.
func witnessConfig(cfg *config.Config, iface string, report []func(time.Time)) witness.Config {
	interval, window := cfg.WitnessTiming()
	if window == 0 {
		// --api-outage release: nobody rides, but the peers may: keep
		// beaconing, and count the live peers over the same window.
		window = 6 * interval
	}
	return witness.Config{Interface: iface, Group: cfg.LeaseNamespace + "/" + cfg.LeaseName,
		Node: cfg.NodeName, Interval: interval, Window: window, Report: report}
}
