package cli

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/vipkeeper/vipkeeper/pkg/apicheck"
	"github.com/vipkeeper/vipkeeper/pkg/config"
	"github.com/vipkeeper/vipkeeper/pkg/guard"
	"github.com/vipkeeper/vipkeeper/pkg/health"
	"github.com/vipkeeper/vipkeeper/pkg/keeper"
	"github.com/vipkeeper/vipkeeper/pkg/metrics"
	"github.com/vipkeeper/vipkeeper/pkg/services"
)

// reports carries what the components find out to those who act on it:
// the metrics, the keeper's loop and, in services mode, the services
// loop. It holds the loops' inboxes, which exist before any component, so
// no component needs a loop that is not built yet.
type reports struct {
	metrics  *metrics.Metrics
	keeper   *keeper.Inbox
	services *services.Inbox // nil unless --services
	vips     []netip.Addr    // the control-plane VIPs: claims of these go to the keeper
}

// newReports builds the loops' inboxes: the services loop's only in
// services mode, since nothing would read it otherwise.
func newReports(m *metrics.Metrics, vips []netip.Addr, servicesMode bool) reports {
	r := reports{metrics: m, keeper: keeper.NewInbox(), vips: vips}
	if servicesMode {
		r.services = services.NewInbox()
	}
	return r
}

// health is the health prober's report.
func (r reports) health(s health.Status) {
	r.metrics.SetHealthy(s.Healthy)
	r.keeper.Health(s.Healthy, s.Reason)
	if r.services != nil {
		r.services.Health(s.Healthy)
	}
}

// apiServer is the check of this node's own API server: the keeper's
// candidacy for the control-plane VIP alone (the services loop is not
// told: Service VIPs do not depend on it).
func (r reports) apiServer(s apicheck.Status) {
	r.metrics.SetAPIServerReady(s.Ready)
	r.keeper.APIServerReady(s.Ready, s.Reason)
}

// apiReachable are those told the watchdog's verdict, in order.
func (r reports) apiReachable() []func(up bool) {
	to := []func(bool){r.metrics.SetAPIReachable, r.keeper.APIReachable}
	if r.services != nil {
		to = append(to, r.services.APIReachable)
	}
	return to
}

// witnessWindow is how recent the witness's evidence must be for a ride
// to go on: zero (none needed) with --witness none or --api-outage
// release.
func witnessWindow(cfg *config.Config) time.Duration {
	_, window := cfg.WitnessTiming()
	return window
}

// forwardClaims hands claims seen on the wire to the keeper, or for a
// Service VIP to the services loop, until ctx ends.
func (r reports) forwardClaims(claims <-chan guard.Claim) func(context.Context) error {
	return func(ctx context.Context) error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case c := <-claims:
				if r.services != nil && !slices.Contains(r.vips, c.Addr) {
					r.services.Claimed(c.Addr)
					continue
				}
				r.keeper.Claimed(c.Addr, c.MAC, string(c.Kind))
			}
		}
	}
}
