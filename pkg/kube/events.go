package kube

import (
	"fmt"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
)

// Events client limits. A failover makes a handful of Events and the
// recorder's spam filter bounds a flapping node further; 2 requests/s
// with a burst of 5 lets a failover's Events out at once while a storm
// of them can never compete with anything else for the API server.
const (
	eventsQPS   = 2
	eventsBurst = 5
	// eventsTimeout bounds one Event write; the recorder retries later.
	eventsTimeout = 5 * time.Second
)

// NewEventsClient returns the client that writes Kubernetes Events: built
// from the same base configuration as the Lease client, on connections and
// a rate limiter of its own, so Events never delay a lease renewal.
func NewEventsClient(base *rest.Config, userAgent string) (kubernetes.Interface, error) {
	cfg := rest.CopyConfig(base)
	cfg.Timeout = eventsTimeout
	cfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(eventsQPS, eventsBurst)
	cfg.UserAgent = userAgent + " events"
	cfg.TLSClientConfig.NextProtos = []string{"http/1.1"}
	cs, err := kubernetes.NewForConfig(withOwnTransport(cfg))
	if err != nil {
		return nil, fmt.Errorf("events client: %w", err)
	}
	return cs, nil
}
