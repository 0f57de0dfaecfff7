package cli

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/vipkeeper/vipkeeper/pkg/config"
	"github.com/vipkeeper/vipkeeper/pkg/election"
	"github.com/vipkeeper/vipkeeper/pkg/keeper"
	"github.com/vipkeeper/vipkeeper/pkg/kube"
	"github.com/vipkeeper/vipkeeper/pkg/links"
	"github.com/vipkeeper/vipkeeper/pkg/services"
	"github.com/vipkeeper/vipkeeper/pkg/services/ipam"
	"github.com/vipkeeper/vipkeeper/pkg/vip"
)

// newServices wires services mode: this node's own Lease and the
// controller. Both report to the services loop's inbox; the controller
// hands the addresses it may bind to the keeper's.
func newServices(cfg *config.Config, conn *kube.Conn, to reports, lk *links.Links, obs services.Observer,
	heard func(ok bool), log *slog.Logger) (*services.Controller, *election.Elector, error) {
	own, err := vip.ForeignAddrs(cfg.Interface)
	if err != nil {
		return nil, nil, &config.Error{Source: cfg.Source("interface"), Err: err}
	}
	lease := services.NodeLeasePrefix + cfg.NodeName
	nodeLease := election.New(election.Config{
		LeaseName:      lease,
		LeaseNamespace: cfg.ServicesLeaseNamespace(),
		Identity:       cfg.NodeName,
		LeaseDuration:  cfg.LeaseDuration,
		RenewDeadline:  cfg.RenewDeadline,
		RetryPeriod:    cfg.RetryPeriod,
		Labels:         map[string]string{services.LabelRole: services.RoleNode},
		// The pool interfaces that are down ride on the renewals.
		Annotations: to.services.NodeLeaseAnnotations,
		Heard:       heard,
	}, conn.Leases.CoordinationV1(), conn.Watch.CoordinationV1(), to.services.NodeLeaseEvent,
		log.With("lease", cfg.ServicesLeaseNamespace()+"/"+lease))
	ctrl, err := services.New(services.Config{
		Node:          cfg.NodeName,
		Namespace:     cfg.ServicesLeaseNamespace(),
		DefaultClass:  cfg.ServicesDefaultClass,
		Pools:         cfg.ServicePools,
		PoolObjects:   cfg.ServicePoolObjects,
		Exclusions:    append(ipam.HostExclusions(cfg.Interface, own), vipExclusions(cfg.VIPs)...),
		LeaseDuration: cfg.LeaseDuration,
		RenewDeadline: cfg.RenewDeadline,
		RetryPeriod:   cfg.RetryPeriod,
		SafetyMargin:  cfg.SafetyMargin,
		Hold:          cfg.APIOutage == string(keeper.Hold),
		ProbeWait:     cfg.TakeoverProbe,
		ProbeBudget:   probeBudget,
		Lateness:      vip.DefaultLateness,
		WitnessWindow: witnessWindow(cfg),
		Healthy:       len(cfg.Health.Checks) == 0,
	}, services.Deps{
		Client:    conn.Services.Writes,
		Informers: conn.Services.Informers,
		Events:    conn.Events,
		// Used only with --services-pool-objects.
		PoolWrites:    conn.Services.PoolWrites,
		PoolInformers: conn.Services.PoolInformers,
		Binder:        to.keeper,
		Prober:        serviceProber{lk},
		Links:         lk,
		NodeLease:     nodeLease,
		Observer:      obs,
	}, to.services, log)
	if err != nil {
		return nil, nil, &config.Error{Source: cfg.Source("services-pool"), Err: err}
	}
	return ctrl, nodeLease, nil
}

// serviceProber gives the controller the addresses another host still
// answers for.
type serviceProber struct{ g claimProber }

func (p serviceProber) Probe(ctx context.Context, addrs []netip.Addr, wait time.Duration) ([]netip.Addr, error) {
	answers, err := probeAnswers(ctx, p.g, addrs, wait)
	answered := make([]netip.Addr, len(answers))
	for i, c := range answers {
		answered[i] = c.Addr
	}
	return answered, err
}

// vipExclusions keep the control-plane VIPs out of the pools. Flag pools
// that hold one are refused at start-up (pkg/config); an AddressPool that
// does is only known later, and must not hand the VIP to a Service.
func vipExclusions(vips []netip.Addr) []ipam.Exclusion {
	var out []ipam.Exclusion
	for _, v := range vips {
		out = append(out, ipam.Exclusion{Prefix: netip.PrefixFrom(v, v.BitLen()), Why: "the control-plane VIP (--vip)"})
	}
	return out
}
