// Package kube builds the Kubernetes API clients vipkeeper uses.
//
// The Lease client is separate from every other client: its own connection
// pool, its own rate limiter and a per-request timeout of half the renew
// deadline, so a slow or hung request can neither queue lease renewals
// behind other calls nor eat the whole renew deadline (PITFALLS items 1, 5
// and 12).
package kube

import (
	"fmt"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/flowcontrol"
)

// Load returns the REST configuration from a kubeconfig file, or the
// in-cluster configuration when path is empty.
func Load(path string) (*rest.Config, error) {
	if path == "" {
		c, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster configuration: %w", err)
		}
		return c, nil
	}
	c, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return c, nil
}

// Lease client limits. A leader writes once per retry period and a
// candidate reads once per retry period; 5 requests/s with a burst of 10
// leaves room for a release and a fast re-acquire without ever throttling
// the renewals at the shortest retry period we accept.
const (
	leaseQPS   = 5
	leaseBurst = 10
)

// LeaseClient returns a clientset for Lease calls only.
//
// It speaks HTTP/1.1: when a request times out, net/http closes its TCP
// connection, so the next renewal dials afresh. Over HTTP/2 a cancelled
// request only resets its stream and later renewals keep riding a dead
// connection until the HTTP/2 ping check notices (about 45 s by default).
func LeaseClient(base *rest.Config, renewDeadline time.Duration, userAgent string) (kubernetes.Interface, error) {
	c := rest.CopyConfig(base)
	c.Timeout = renewDeadline / 2
	c.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(leaseQPS, leaseBurst)
	c.TLSClientConfig.NextProtos = []string{"http/1.1"}
	c.UserAgent = userAgent
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		return nil, fmt.Errorf("lease client: %w", err)
	}
	return cs, nil
}
