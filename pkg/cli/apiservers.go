package cli

import (
	"context"
	"log/slog"
	"sync"

	"k8s.io/client-go/rest"

	"github.com/vipkeeper/vipkeeper/pkg/config"
	"github.com/vipkeeper/vipkeeper/pkg/kube"
	"github.com/vipkeeper/vipkeeper/pkg/watchdog"
)

// useServers points restCfg at --api-server (or keeps the kubeconfig's
// server) and warns when, without --api-server, the kubeconfig's server is
// the VIP itself: after the holder reboots nobody could reach the API server
// to take the lease over (kube-vip#684; PITFALLS item 4).
func useServers(cfg *config.Config, restCfg *rest.Config, log *slog.Logger) (*kube.Servers, error) {
	if len(cfg.APIServers) == 0 && cfg.ServerIsVIP(restCfg.Host) {
		log.Warn("the kubeconfig's API server is the VIP this node keeps: the election deadlocks once the holder is gone; set --api-server to this node's own API server (e.g. https://127.0.0.1:6443), then the other control-plane nodes",
			"server", restCfg.Host)
	}
	servers, err := kube.UseServers(restCfg, cfg.APIServers, log)
	if err != nil {
		return nil, &config.Error{Source: "--api-server", Err: err}
	}
	return servers, nil
}

// failingOver wraps the watchdog's probe so that, while the API server stays
// unreachable, every further `every` failed probes leave the server in use
// as well. The watchdog reports only the change to unreachable (its
// onChange calls Failover once, after `every` failures); without this a
// second hung --api-server would keep the daemon away from a third that
// works.
func failingOver(probe watchdog.Probe, every int, failover func()) watchdog.Probe {
	var mu sync.Mutex // guards failures
	failures := 0
	return func(ctx context.Context) error {
		err := probe(ctx)
		mu.Lock()
		if err == nil {
			failures = 0
		} else {
			failures++
		}
		again := every > 0 && failures > every && failures%every == 0
		mu.Unlock()
		if again {
			failover()
		}
		return err
	}
}
