package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes"

	"github.com/vipkeeper/vipkeeper/pkg/announce"
	"github.com/vipkeeper/vipkeeper/pkg/config"
	"github.com/vipkeeper/vipkeeper/pkg/doctor"
	"github.com/vipkeeper/vipkeeper/pkg/events"
	"github.com/vipkeeper/vipkeeper/pkg/guard"
	"github.com/vipkeeper/vipkeeper/pkg/health"
	"github.com/vipkeeper/vipkeeper/pkg/keeper"
	"github.com/vipkeeper/vipkeeper/pkg/metrics"
	"github.com/vipkeeper/vipkeeper/pkg/server"
	"github.com/vipkeeper/vipkeeper/pkg/version"
)

// pingTimeout is how long /healthz waits for the keeper's loop to answer.
// The loop's slowest step is a bind with its first announcement round
// (bounded at 500 ms); a loop that cannot answer in a second is stuck.
const pingTimeout = time.Second

// observability is what an operator watches the daemon through: the
// metrics, the Kubernetes Events and the HTTP endpoints (docs/metrics.md).
type observability struct {
	reg      *prometheus.Registry
	metrics  *metrics.Metrics
	events   *events.Recorder
	server   *server.Server // nil when --metrics-addr is empty
	electing atomic.Bool    // the election is running
}

// newObservability builds the metrics and the Events recorder (writing
// through eventsClient) and opens the HTTP listener, so that a busy
// --metrics-addr fails the start. It starts nothing.
func newObservability(cfg *config.Config, eventsClient kubernetes.Interface, log *slog.Logger) (*observability, error) {
	lease := cfg.LeaseNamespace + "/" + cfg.LeaseName
	o := &observability{reg: metrics.NewRegistry()}
	var err error
	o.metrics, err = metrics.New(o.reg, metrics.Config{Lease: lease, VIPs: cfg.VIPs, Build: version.Get(), Healthy: len(cfg.Health.Checks) == 0,
		APIServerCheck: cfg.APIServerCheck.Enabled})
	if err != nil {
		return nil, err
	}
	o.events = events.New(events.Config{LeaseName: cfg.LeaseName, LeaseNamespace: cfg.LeaseNamespace, Node: cfg.NodeName}, eventsClient, log)
	if cfg.MetricsAddr != "" {
		ln, err := server.Listen(cfg.MetricsAddr)
		if err != nil {
			return nil, &config.Error{Source: cfg.Source("metrics-addr"), Err: err}
		}
		o.server = server.New(ln, o.reg, log)
	}
	return o, nil
}

// observer is what the keeper reports its transitions to.
func (o *observability) observer() keeper.Observer {
	return keeper.Observers{o.metrics, o.events}
}

// elect wraps the election's Start so that /readyz knows it runs.
func (o *observability) elect(start func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		o.electing.Store(true)
		defer o.electing.Store(false)
		return start(ctx)
	}
}

// healthConfig adds the probe metrics to the health prober's
// configuration.
func (o *observability) healthConfig(c health.Config) health.Config {
	c.Observe = o.metrics.ObserveProbe
	return c
}

// setFindings exports the counts of the doctor's findings by severity.
func (o *observability) setFindings(findings []doctor.Finding) {
	counts := map[string]int{}
	for _, f := range findings {
		counts[f.Severity.String()]++
	}
	o.metrics.SetDoctorFindings(counts)
}

// pinger is the keeper's liveness (keeper.Keeper.Ping).
type pinger interface {
	Ping(ctx context.Context) error
}

// reachability is the watchdog's verdict (watchdog.Watchdog.Reachable).
type reachability interface {
	Reachable() bool
}

// watch connects the endpoints and the announcer's counters to the
// components they report on.
func (o *observability) watch(k pinger, api reachability, ann *announce.Announcer, grd *guard.Guard) error {
	if err := o.metrics.AddAnnouncer(ann.Stats); err != nil {
		return err
	}
	if err := o.metrics.AddGuard(grd.Stats); err != nil {
		return err
	}
	if o.server == nil {
		return nil
	}
	o.server.AddHealthzCheck("keeper", keeperAlive(k))
	o.server.AddReadyzCheck("election", func(*http.Request) error {
		if !o.electing.Load() {
			return errors.New("the election is not running")
		}
		return nil
	})
	o.server.AddReadyzCheck("api-server", func(*http.Request) error {
		if !api.Reachable() {
			return errors.New("the API server is unreachable")
		}
		return nil
	})
	return nil
}

// keeperAlive fails when the keeper's loop does not answer within
// pingTimeout: it is stuck (or has stopped).
func keeperAlive(k pinger) server.Check {
	return func(r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), pingTimeout)
		defer cancel()
		if err := k.Ping(ctx); err != nil {
			return fmt.Errorf("keeper loop did not answer within %v: %w", pingTimeout, err)
		}
		return nil
	}
}

// components are the parts that run beside the keeper: the Events writer
// and the HTTP server.
func (o *observability) components() []func(context.Context) error {
	c := []func(context.Context) error{o.events.Start}
	if o.server != nil {
		c = append(c, o.server.Start)
	}
	return c
}
