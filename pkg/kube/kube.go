// Package kube builds the Kubernetes API clients vipkeeper uses.
//
// The Lease client is separate from every other client: its own connection
// pool, its own rate limiter and a per-request timeout of half the renew
// deadline, so a slow or hung request can neither queue lease renewals
// behind other calls nor eat the whole renew deadline (PITFALLS items 1, 5
// and 12).
package kube

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/flowcontrol"
)

// Load returns the REST configuration from a kubeconfig file, or the
// in-cluster configuration when path is empty. A server that is not
// https, or TLS material that does not parse, is an error here, before any
// request.
func Load(path string) (*rest.Config, error) {
	if path == "" {
		c, err := rest.InClusterConfig()
		if err == nil {
			err = check(c)
		}
		if err != nil {
			return nil, fmt.Errorf("in-cluster configuration: %w", err)
		}
		return c, nil
	}
	c, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	if err := check(c); err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return c, nil
}

// check refuses, before any request, a configuration that could never
// work: a server that is not https://host[:port] with a port from 1 to
// 65535 (vipkeeper never talks to an API server in clear text), or TLS
// material (a CA bundle, a client certificate) that does not parse.
func check(c *rest.Config) error {
	u, err := url.Parse(c.Host)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return fmt.Errorf("server %q: want https://host[:port]", redactURL(c.Host))
	}
	if p := u.Port(); p != "" || strings.HasSuffix(u.Host, ":") {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("server %q: port %q is not a number from 1 to 65535", redactURL(c.Host), p)
		}
	}
	if _, err := rest.TLSConfigFor(c); err != nil {
		return fmt.Errorf("TLS settings: %w", err)
	}
	return nil
}

// redactURL hides a URL's user information (a password or token).
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		u.User = url.User("REDACTED")
		return u.String()
	}
	return s
}

// Lease client limits. A leader writes once per retry period and a
// candidate reads once per retry period; 5 requests/s with a burst of 10
// leaves room for a release and a fast re-acquire without ever throttling
// the renewals at the shortest retry period we accept.
const (
	leaseQPS   = 5
	leaseBurst = 10
)

// Clients are the API clients of one daemon, each on its own connections.
type Clients struct {
	// Leases serves lease reads and writes: a per-request timeout of half
	// the renew deadline and a rate limiter of its own.
	Leases kubernetes.Interface
	// Watch serves the Lease watch: no request timeout (a watch is long),
	// bounded by the watch's own server-side timeout instead.
	Watch kubernetes.Interface
	// Probe serves the watchdog's /readyz probe.
	Probe kubernetes.Interface

	https []*http.Client
}

// NewClients builds the daemon's clients from base.
//
// They speak HTTP/1.1: when a request times out, net/http closes its TCP
// connection, so the next request dials afresh. Over HTTP/2 a cancelled
// request only resets its stream and later requests keep riding a dead
// connection until the HTTP/2 ping check notices (about 45 s by default).
func NewClients(base *rest.Config, renewDeadline time.Duration, userAgent string) (*Clients, error) {
	c := &Clients{}
	var err error
	if c.Leases, err = c.build(base, renewDeadline/2, flowcontrol.NewTokenBucketRateLimiter(leaseQPS, leaseBurst), userAgent+" leases"); err != nil {
		return nil, fmt.Errorf("lease client: %w", err)
	}
	if c.Watch, err = c.build(base, 0, flowcontrol.NewTokenBucketRateLimiter(leaseQPS, leaseBurst), userAgent+" watch"); err != nil {
		return nil, fmt.Errorf("watch client: %w", err)
	}
	if c.Probe, err = c.build(base, renewDeadline/2, flowcontrol.NewTokenBucketRateLimiter(leaseQPS, leaseBurst), userAgent+" watchdog"); err != nil {
		return nil, fmt.Errorf("watchdog client: %w", err)
	}
	return c, nil
}

func (c *Clients) build(base *rest.Config, timeout time.Duration, rl flowcontrol.RateLimiter, ua string) (kubernetes.Interface, error) {
	cfg := rest.CopyConfig(base)
	cfg.Timeout = timeout
	cfg.RateLimiter = rl
	cfg.UserAgent = ua
	cfg.TLSClientConfig.NextProtos = []string{"http/1.1"}
	// A transport of its own per client (not client-go's shared cache):
	// closing one client's idle connections must not touch another's,
	// and a lease renewal never queues behind another client's request.
	hc, err := rest.HTTPClientFor(withOwnTransport(cfg))
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, err
	}
	c.https = append(c.https, hc)
	return cs, nil
}

// ServicesClients are the services controller's clients, on connections
// of their own and with a rate limiter of their own, so that a burst of
// status and claim writes never delays a lease renewal.
type ServicesClients struct {
	// Writes serves status, claim and Event writes: a per-request timeout
	// of half the renew deadline.
	Writes kubernetes.Interface
	// Informers serves the informers' lists and watches: no request
	// timeout, since a watch is long.
	Informers kubernetes.Interface
}

// AddServices builds the services controller's clients from base and adds
// them to the ones CloseIdleConnections drops.
func (c *Clients) AddServices(base *rest.Config, renewDeadline time.Duration, qps float32, burst int, userAgent string) (*ServicesClients, error) {
	w, err := c.build(base, renewDeadline/2, flowcontrol.NewTokenBucketRateLimiter(qps, burst), userAgent+" services")
	if err != nil {
		return nil, fmt.Errorf("services client: %w", err)
	}
	i, err := c.build(base, 0, flowcontrol.NewTokenBucketRateLimiter(qps, burst), userAgent+" services-informers")
	if err != nil {
		return nil, fmt.Errorf("services informer client: %w", err)
	}
	return &ServicesClients{Writes: w, Informers: i}, nil
}

// CloseIdleConnections drops every idle connection of every client, so the
// next requests dial afresh: called when the API server comes back after
// an outage, when the old connections may be dead without knowing it.
func (c *Clients) CloseIdleConnections() {
	for _, hc := range c.https {
		// Not hc.CloseIdleConnections(): client-go's wrappers (user
		// agent, auth) do not pass it on, so it would do nothing.
		utilnet.CloseIdleConnectionsFor(hc.Transport)
	}
}

// ReadyzProbe asks the API server's /readyz: ready means it can serve
// Leases (it checks etcd). Every identity may read it (the built-in
// system:public-info-viewer role).
func ReadyzProbe(cs kubernetes.Interface) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	}
}

// withOwnTransport gives cfg a dialer of its own, which keeps client-go
// from sharing a cached transport between clients built from one config.
// A dialer already set (UseServers) is kept: client-go wraps it anew for
// every config, which keeps the transports apart just the same.
func withOwnTransport(cfg *rest.Config) *rest.Config {
	if cfg.Dial != nil {
		return cfg
	}
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: tcpKeepAlive}
	cfg.Dial = d.DialContext
	return cfg
}

// Dialing gives up after dialTimeout: a SYN to an unreachable API server
// must not hold a renewal past its deadline. TCP keepalive probes idle
// connections so that a dead one is noticed even when nothing is sent.
const (
	dialTimeout  = 2 * time.Second
	tcpKeepAlive = 5 * time.Second
)
