package cli

import (
	"errors"
	"log/slog"

	"github.com/vipkeeper/vipkeeper/pkg/config"
	"github.com/vipkeeper/vipkeeper/pkg/health"
	"github.com/vipkeeper/vipkeeper/pkg/kube"
)

// connect builds every API client of the daemon (kube.Connect) and warns
// when, without --api-server, the kubeconfig's server is the VIP itself:
// after the holder reboots nobody could reach the API server to take the
// lease over (kube-vip#684).
func connect(cfg *config.Config, log *slog.Logger) (*kube.Conn, error) {
	conn, err := kube.Connect(kube.Options{
		Kubeconfig:    cfg.Kubeconfig,
		Servers:       cfg.APIServers,
		Node:          cfg.NodeName,
		RenewDeadline: cfg.RenewDeadline,
		Services:      cfg.Services,
		ServicesQPS:   cfg.ServicesQPS,
		ServicesBurst: cfg.ServicesBurst,
		Log:           log,
	})
	if err != nil {
		return nil, flagError(cfg, err)
	}
	if len(cfg.APIServers) == 0 && cfg.ServerIsVIP(conn.Server) {
		log.Warn("the kubeconfig's API server is the VIP this node keeps: the election deadlocks once the holder is gone; set --api-server to this node's own API server (e.g. https://127.0.0.1:6443), then the other control-plane nodes",
			"server", conn.Server)
	}
	return conn, nil
}

// flagError names where a setting a component refused came from — the
// flag, the VIPKEEPER_* variable or the config-file field — so the
// message points at what the operator wrote.
func flagError(cfg *config.Config, err error) error {
	var he *health.FieldError
	if errors.As(err, &he) {
		return &config.Error{Source: cfg.Source(he.Field), Err: he.Err}
	}
	var ke *kube.FieldError
	if errors.As(err, &ke) {
		return &config.Error{Source: cfg.Source(ke.Field), Err: ke.Err}
	}
	return err
}
