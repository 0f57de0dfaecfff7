package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"k8s.io/client-go/rest"

	"github.com/vipkeeper/vipkeeper/pkg/config"
	"github.com/vipkeeper/vipkeeper/pkg/election"
	"github.com/vipkeeper/vipkeeper/pkg/guard"
	"github.com/vipkeeper/vipkeeper/pkg/keeper"
	"github.com/vipkeeper/vipkeeper/pkg/kube"
	"github.com/vipkeeper/vipkeeper/pkg/services"
	"github.com/vipkeeper/vipkeeper/pkg/version"
)

// newServices wires services mode: the controller, its clients and this
// node's own Lease. k is called only once the daemon runs (the keeper
// is built after the components that report to it).
func newServices(cfg *config.Config, restCfg *rest.Config, clients *kube.Clients, k func() *keeper.Keeper,
	grd *guard.Guard, obs services.Observer, log *slog.Logger) (*services.Controller, *election.Elector, error) {
	v := version.Get()
	sc, err := clients.AddServices(restCfg, cfg.RenewDeadline, cfg.ServicesQPS, cfg.ServicesBurst,
		fmt.Sprintf("vipkeeper/%s (%s)", v.Version, cfg.NodeName))
	if err != nil {
		return nil, nil, err
	}
	var ctrl *services.Controller
	nodeLease := election.New(election.Config{
		LeaseName:      services.NodeLeasePrefix + cfg.NodeName,
		LeaseNamespace: cfg.ServicesLeaseNamespace(),
		Identity:       cfg.NodeName,
		LeaseDuration:  cfg.LeaseDuration,
		RenewDeadline:  cfg.RenewDeadline,
		RetryPeriod:    cfg.RetryPeriod,
		Labels:         map[string]string{services.LabelRole: services.RoleNode},
	}, clients.Leases.CoordinationV1(), clients.Watch.CoordinationV1(), func(e election.Event) { ctrl.NodeLeaseEvent(e) },
		log.With("lease", cfg.ServicesLeaseNamespace()+"/"+services.NodeLeasePrefix+cfg.NodeName))
	ctrl, err = services.New(services.Config{
		Node:          cfg.NodeName,
		Namespace:     cfg.ServicesLeaseNamespace(),
		DefaultClass:  cfg.ServicesDefaultClass,
		Pools:         cfg.ServicePools,
		LeaseDuration: cfg.LeaseDuration,
		RenewDeadline: cfg.RenewDeadline,
		SafetyMargin:  cfg.SafetyMargin,
		Hold:          cfg.APIOutage == string(keeper.Hold),
		ProbeWait:     cfg.TakeoverProbe,
		ProbeBudget:   probeBudget,
		Healthy:       len(cfg.Health.Checks) == 0,
	}, services.Deps{
		Client:    sc.Writes,
		Informers: sc.Informers,
		Binder:    lateBinder(k),
		Prober:    serviceProber{grd},
		NodeLease: nodeLease,
		Observer:  obs,
	}, log)
	if err != nil {
		return nil, nil, &config.Error{Source: "--services-pool", Err: err}
	}
	return ctrl, nodeLease, nil
}

// lateBinder reaches the keeper, which is built after the controller.
type lateBinder func() *keeper.Keeper

func (b lateBinder) SetServiceVIPs(ctx context.Context, addrs []netip.Addr) error {
	return b().SetServiceVIPs(ctx, addrs)
}

// serviceProber gives the controller the addresses another host still
// answers for.
type serviceProber struct{ g *guard.Guard }

func (p serviceProber) Probe(ctx context.Context, addrs []netip.Addr, wait time.Duration) ([]netip.Addr, error) {
	answers, err := probeAnswers(ctx, p.g, addrs, wait)
	answered := make([]netip.Addr, len(answers))
	for i, c := range answers {
		answered[i] = c.Addr
	}
	return answered, err
}
