package nsguard

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"

	"github.com/vipkeeper/vipkeeper/pkg/services"
)

// DefaultRetry is how often the guard looks again while it is blocked: an
// operator's pace, and one small LIST per node per period.
const DefaultRetry = 10 * time.Second

// Config says where to look.
type Config struct {
	// Namespace is where an earlier install kept its node Leases: the
	// lease namespace.
	Namespace string
	// Serving is the namespace this node will serve from, for the logs.
	Serving string
	// Retry is the pause between looks while blocked; DefaultRetry if 0.
	Retry time.Duration
}

// Guard holds the services controller back while Blocking finds node
// Leases in Config.Namespace.
type Guard struct {
	cfg    Config
	leases coordinationv1client.LeasesGetter
	log    *slog.Logger
}

// New returns a Guard; it starts nothing.
func New(cfg Config, leases coordinationv1client.LeasesGetter, log *slog.Logger) *Guard {
	if cfg.Retry <= 0 {
		cfg.Retry = DefaultRetry
	}
	return &Guard{cfg: cfg, leases: leases, log: log.With("component", "nsguard", "namespace", cfg.Namespace)}
}

// Blocking returns the names of the node Leases in leases, sorted: any of
// them, held or released, may belong to a node that serves from their
// namespace.
func Blocking(leases []coordinationv1.Lease) []string {
	var names []string
	for _, l := range leases {
		if l.Labels[services.LabelRole] == services.RoleNode {
			names = append(names, l.Name)
		}
	}
	slices.Sort(names)
	return names
}

// Wait returns once a list of the node Leases in Config.Namespace finds
// none, or when ctx ends (with nil: the daemon is stopping).
func (g *Guard) Wait(ctx context.Context) error {
	var last string // what was last logged, so that a steady state logs once
	for {
		// No resourceVersion: a quorum read, never an older cache.
		list, err := g.leases.Leases(g.cfg.Namespace).List(ctx, metav1.ListOptions{
			LabelSelector: services.LabelRole + "=" + services.RoleNode})
		if ctx.Err() != nil {
			return nil
		}
		var state string
		var names []string
		if err == nil {
			names = Blocking(list.Items)
		}
		switch {
		case err != nil:
			state = "error: " + err.Error()
			if state != last {
				g.log.Warn("cannot list the node Leases of an earlier install; not serving Services until it can "+
					"(the services RBAC grants list on Leases here for this check)", "err", err, "retry_in", g.cfg.Retry)
			}
		case len(names) > 0:
			state = strings.Join(names, ",")
			if state != last {
				g.log.Error(fmt.Sprintf("node Leases of an install that serves Services from %s are there; not serving from %s "+
					"until they are gone: two nodes could otherwise hold one address. Stop that install, then delete them "+
					"(kubectl -n %s delete lease -l %s); docs/services.md, \"Moving the services Leases\"",
					g.cfg.Namespace, g.cfg.Serving, g.cfg.Namespace, services.LabelRole),
					"leases", names, "retry_in", g.cfg.Retry)
			}
		default:
			g.log.Info("no node Lease of an earlier install here; serving Services", "serving_namespace", g.cfg.Serving)
			return nil
		}
		last = state
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(g.cfg.Retry):
		}
	}
}

// Wrap returns start behind the guard: start runs once Wait returned,
// unless ctx ended first.
func (g *Guard) Wrap(start func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := g.Wait(ctx); err != nil || ctx.Err() != nil {
			return err
		}
		return start(ctx)
	}
}
