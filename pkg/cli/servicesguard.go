package cli

import (
	"context"
	"log/slog"

	"github.com/vipkeeper/vipkeeper/pkg/config"
	"github.com/vipkeeper/vipkeeper/pkg/kube"
	"github.com/vipkeeper/vipkeeper/pkg/services"
	"github.com/vipkeeper/vipkeeper/pkg/services/nsguard"
)

// servicesStart is the services controller's Start. When its Leases live
// in a namespace of their own (--services-namespace), it waits behind
// nsguard until no node Lease of an install that serves from the lease
// namespace is left (docs/services.md, "Moving the services Leases").
func servicesStart(cfg *config.Config, conn *kube.Conn, svc *services.Controller, log *slog.Logger) func(context.Context) error {
	ns := cfg.ServicesLeaseNamespace()
	if ns == cfg.LeaseNamespace {
		return svc.Start
	}
	return nsguard.New(nsguard.Config{Namespace: cfg.LeaseNamespace, Serving: ns}, conn.Leases.CoordinationV1(), log).Wrap(svc.Start)
}
