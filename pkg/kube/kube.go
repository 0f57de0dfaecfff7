// Package kube connects vipkeeper to the Kubernetes API: it loads the
// configuration, picks the API server among --api-server's, and builds
// every client the daemon uses (Connect), and the one-shot client of a
// command (CommandClient).
//
// The Lease client is separate from every other client: its own connection
// pool, its own rate limiter and a per-request timeout of half the renew
// deadline. A renewal must never queue behind another client's request
// (Events, Service writes, a long list), a hung request must fail while the
// leader can still renew within the deadline, and a dead connection must
// cost one request, not the whole renew deadline.
package kube

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/flowcontrol"

	"github.com/vipkeeper/vipkeeper/pkg/version"
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

// Options say how the daemon reaches the API server.
type Options struct {
	// Kubeconfig is the kubeconfig file; "" means in-cluster.
	Kubeconfig string
	// Servers are the API servers in order of preference (--api-server);
	// none keeps the kubeconfig's server.
	Servers []string
	// Node names this node in every client's user agent.
	Node string
	// RenewDeadline bounds the Lease, probe and write requests (each gets
	// half of it).
	RenewDeadline time.Duration
	// Services adds the services controller's clients, limited to
	// ServicesQPS requests per second with bursts of ServicesBurst.
	Services      bool
	ServicesQPS   float32
	ServicesBurst int
	Log           *slog.Logger
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

// FieldError is an error of one setting. Field is its flag name without
// dashes: kubeconfig, api-server or api-server-check.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Conn is the daemon's connection to the API: the servers it dials and
// every client, each on connections of its own.
type Conn struct {
	// Server is the kubeconfig's server, before --api-server replaced it.
	Server string
	// Leases serves lease reads and writes: a per-request timeout of half
	// the renew deadline and a rate limiter of its own.
	Leases kubernetes.Interface
	// Watch serves the Lease watch: no request timeout (a watch is long),
	// bounded by the watch's own server-side timeout instead.
	Watch kubernetes.Interface
	// Probe serves the watchdog's /readyz probe (Readyz).
	Probe kubernetes.Interface
	// Events writes Kubernetes Events, under limits of its own
	// (eventsQPS, eventsBurst, eventsTimeout).
	Events kubernetes.Interface
	// Services are the services controller's clients; nil without
	// Options.Services.
	Services *ServicesClients

	servers *apiServers
	https   []*http.Client
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
	// PoolWrites and PoolInformers are the same two for the AddressPool
	// objects (pkg/services/pools), which have no typed client.
	PoolWrites, PoolInformers dynamic.Interface
}

// Lease client limits. A leader writes once per retry period and a
// candidate reads once per retry period; 5 requests/s with a burst of 10
// leaves room for a release and a fast re-acquire without ever throttling
// the renewals at the shortest retry period we accept.
const (
	leaseQPS   = 5
	leaseBurst = 10
)

// Connect loads the configuration, points it at the API servers and builds
// every client from it; it sends no request.
//
// Every client dials through the same servers, so they move together on a
// failover, and speaks HTTP/1.1: when a request times out, net/http closes
// its TCP connection, so the next request dials afresh. Over HTTP/2 a
// cancelled request only resets its stream and later requests keep riding
// a dead connection until the HTTP/2 ping check notices (about 45 s by
// default).
func Connect(o Options) (*Conn, error) {
	base, err := Load(o.Kubeconfig)
	if err != nil {
		return nil, &FieldError{Field: "kubeconfig", Err: err}
	}
	c := &Conn{Server: base.Host}
	if c.servers, err = useServers(base, o.Servers, o.Log); err != nil {
		return nil, &FieldError{Field: "api-server", Err: err}
	}
	ua := userAgent(o.Node)
	half := o.RenewDeadline / 2
	for _, b := range []struct {
		client  *kubernetes.Interface
		name    string
		timeout time.Duration
		rl      flowcontrol.RateLimiter
	}{
		{&c.Leases, "leases", half, flowcontrol.NewTokenBucketRateLimiter(leaseQPS, leaseBurst)},
		{&c.Watch, "watch", 0, flowcontrol.NewTokenBucketRateLimiter(leaseQPS, leaseBurst)},
		{&c.Probe, "watchdog", half, flowcontrol.NewTokenBucketRateLimiter(leaseQPS, leaseBurst)},
		{&c.Events, "events", eventsTimeout, flowcontrol.NewTokenBucketRateLimiter(eventsQPS, eventsBurst)},
	} {
		if *b.client, err = c.build(base, b.timeout, b.rl, ua+" "+b.name); err != nil {
			return nil, fmt.Errorf("%s client: %w", b.name, err)
		}
	}
	if o.Services {
		if c.Services, err = c.buildServices(base, half, o.ServicesQPS, o.ServicesBurst, ua); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// userAgent names the daemon's version and node in the API server's audit
// log; each client appends what it is for.
func userAgent(node string) string {
	return fmt.Sprintf("vipkeeper/%s (%s)", version.Get().Version, node)
}

func (c *Conn) buildServices(base *rest.Config, timeout time.Duration, qps float32, burst int, ua string) (*ServicesClients, error) {
	// The pool clients share the limiters of their typed twins: the
	// --services-qps budget covers both.
	writes := flowcontrol.NewTokenBucketRateLimiter(qps, burst)
	reads := flowcontrol.NewTokenBucketRateLimiter(qps, burst)
	w, err := c.build(base, timeout, writes, ua+" services")
	if err != nil {
		return nil, fmt.Errorf("services client: %w", err)
	}
	i, err := c.build(base, 0, reads, ua+" services-informers")
	if err != nil {
		return nil, fmt.Errorf("services informer client: %w", err)
	}
	pw, err := c.buildDynamic(base, timeout, writes, ua+" services-pools")
	if err != nil {
		return nil, fmt.Errorf("services pool client: %w", err)
	}
	pi, err := c.buildDynamic(base, 0, reads, ua+" services-pool-informers")
	if err != nil {
		return nil, fmt.Errorf("services pool informer client: %w", err)
	}
	return &ServicesClients{Writes: w, Informers: i, PoolWrites: pw, PoolInformers: pi}, nil
}

// buildDynamic is build for a dynamic client. It sends nothing until
// used: without --services-pool-objects its connections are never opened.
func (c *Conn) buildDynamic(base *rest.Config, timeout time.Duration, rl flowcontrol.RateLimiter, ua string) (dynamic.Interface, error) {
	cfg, hc, err := c.transport(base, timeout, rl, ua)
	if err != nil {
		return nil, err
	}
	return dynamic.NewForConfigAndClient(cfg, hc)
}

// build makes one client on a transport of its own and remembers it for
// CloseIdleConnections.
func (c *Conn) build(base *rest.Config, timeout time.Duration, rl flowcontrol.RateLimiter, ua string) (kubernetes.Interface, error) {
	cfg, hc, err := c.transport(base, timeout, rl, ua)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfigAndClient(cfg, hc)
}

// transport is base with the client's own settings, and an HTTP client on
// a transport of its own, remembered for CloseIdleConnections. A transport
// of its own per client, not client-go's shared cache (which never shares
// a transport whose dialer is a function, as the servers' is): closing one
// client's idle connections must not touch another's, and a lease renewal
// never queues behind another client's request.
func (c *Conn) transport(base *rest.Config, timeout time.Duration, rl flowcontrol.RateLimiter, ua string) (*rest.Config, *http.Client, error) {
	cfg := rest.CopyConfig(base)
	cfg.Timeout = timeout
	cfg.RateLimiter = rl
	cfg.UserAgent = ua
	cfg.TLSClientConfig.NextProtos = []string{"http/1.1"}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, nil, err
	}
	c.https = append(c.https, hc)
	return cfg, hc, nil
}

// CloseIdleConnections drops every idle connection of every client, so the
// next requests dial afresh: called when the API server comes back after
// an outage, when the old connections may be dead without knowing it.
func (c *Conn) CloseIdleConnections() {
	for _, hc := range c.https {
		// Not hc.CloseIdleConnections(): client-go's wrappers (user
		// agent, auth) do not pass it on, so it would do nothing.
		utilnet.CloseIdleConnectionsFor(hc.Transport)
	}
}

// Failover leaves the API server in use for the next one; see
// apiServers.Failover.
func (c *Conn) Failover() { c.servers.Failover() }

// Readyz asks the API server's /readyz on the probe client: ready means it
// can serve Leases (it checks etcd). Every identity may read it (the
// built-in system:public-info-viewer role).
func (c *Conn) Readyz(ctx context.Context) error {
	_, err := c.Probe.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	return err
}

// Dialing gives up after dialTimeout: a SYN to an unreachable API server
// must not hold a renewal past its deadline. TCP keepalive probes idle
// connections so that a dead one is noticed even when nothing is sent.
const (
	dialTimeout  = 2 * time.Second
	tcpKeepAlive = 5 * time.Second
)
