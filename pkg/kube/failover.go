package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

// failoverCooldown is how long a server that failed (a refused or timed-out
// dial, or Failover) is passed over for new connections: long enough that an
// outage does not send every new connection back to it first, short enough
// that vipkeeper returns to its own node's API server soon after that comes
// back (a restarting kube-apiserver is usually serving again within 30 s).
const failoverCooldown = 30 * time.Second

// apiServers dials the API server at one of several addresses, in order of
// preference, and remembers which one it uses. Every client built from a
// configuration useServers prepared dials through it, so they move
// together.
type apiServers struct {
	servers []*server
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	now     func() time.Time
	log     *slog.Logger

	mu      sync.Mutex // guards the fields below and every server's badUntil
	current *server
	conns   map[*conn]struct{}
}

type server struct {
	url      string // as configured, for logs
	addr     string // host:port
	badUntil time.Time
}

// useServers makes cfg reach the API server through urls, in order of
// preference, instead of cfg.Host, and returns the apiServers that cfg now
// dials through. With no urls, cfg keeps its server and gains only the
// tracking (Failover then closes its connections and dials afresh).
//
// TLS still checks each server's certificate against cfg's own server name
// (its tls-server-name, else the host of its server URL): kubeadm's
// kubeconfigs name the controlPlaneEndpoint, which every kubeadm API server
// certificate carries, as does the in-cluster configuration's service IP.
// The servers are dialled directly: an HTTPS_PROXY would otherwise receive
// a connection meant for a server.
func useServers(cfg *rest.Config, urls []string, log *slog.Logger) (*apiServers, error) {
	s := &apiServers{
		dial:  (&net.Dialer{Timeout: dialTimeout, KeepAlive: tcpKeepAlive}).DialContext,
		now:   time.Now,
		log:   log.With("component", "api-servers"),
		conns: map[*conn]struct{}{},
	}
	list := urls
	if len(list) == 0 {
		list = []string{cfg.Host}
	}
	for _, raw := range list {
		addr, err := hostPort(raw)
		if err != nil {
			return nil, err
		}
		s.servers = append(s.servers, &server{url: raw, addr: addr})
	}
	if len(urls) > 0 {
		name, err := serverName(cfg)
		if err != nil {
			return nil, err
		}
		cfg.TLSClientConfig.ServerName = name
		cfg.Host = urls[0]
		cfg.Proxy = func(*http.Request) (*url.URL, error) { return nil, nil }
	}
	cfg.Dial = s.DialContext
	return s, nil
}

// serverName is the name every API server's certificate is checked
// against: the kubeconfig's tls-server-name, else the host of its server
// URL.
func serverName(cfg *rest.Config) (string, error) {
	if cfg.TLSClientConfig.ServerName != "" {
		return cfg.TLSClientConfig.ServerName, nil
	}
	u, err := parseServer(cfg.Host)
	if err != nil {
		return "", fmt.Errorf("kubeconfig server %q: %w", cfg.Host, err)
	}
	return u.Hostname(), nil
}

// parseServer parses a rest.Config Host, which may lack the scheme.
func parseServer(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		u, err = url.Parse("https://" + raw)
	}
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("not a server URL")
	}
	return u, nil
}

func hostPort(raw string) (string, error) {
	u, err := parseServer(raw)
	if err != nil {
		return "", fmt.Errorf("API server %q: %w", raw, err)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80"}[u.Scheme]
		if port == "" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

// DialContext connects to the first server that answers, preferring those
// that have not failed lately; the address asked for is ignored (it is
// the first server's, or the kubeconfig's).
func (s *apiServers) DialContext(ctx context.Context, network, _ string) (net.Conn, error) {
	var errs []error
	for _, sv := range s.order() {
		c, err := s.dial(ctx, network, sv.addr)
		if err == nil {
			return s.use(sv, c), nil
		}
		errs = append(errs, err)
		s.mu.Lock()
		sv.badUntil = s.now().Add(failoverCooldown)
		s.mu.Unlock()
		s.log.Debug("API server does not answer", "server", sv.url, "err", err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("no API server answers: %w", errors.Join(errs...))
}

// order lists the servers to try: those not cooling down, in order of
// preference, then the others (a server that failed is still better than
// none).
func (s *apiServers) order() []*server {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var good, cooling []*server
	for _, sv := range s.servers {
		if now.Before(sv.badUntil) {
			cooling = append(cooling, sv)
		} else {
			good = append(good, sv)
		}
	}
	return append(good, cooling...)
}

func (s *apiServers) use(sv *server, nc net.Conn) net.Conn {
	c := &conn{Conn: nc, s: s, server: sv}
	s.mu.Lock()
	s.conns[c] = struct{}{}
	from := s.current
	s.current = sv
	s.mu.Unlock()
	switch {
	case from == nil:
		s.log.Info("using API server", "server", sv.url)
	case from != sv:
		s.log.Warn("API server changed", "from", from.url, "to", sv.url)
	}
	return c
}

// Failover leaves the server in use: it is passed over for new connections
// for a while, and every connection to it is closed now, so requests hung
// on a server that accepts connections but does not answer fail at once
// and the next ones go to the next server. The watchdog decides when
// (watchdog.Decide).
func (s *apiServers) Failover() {
	s.mu.Lock()
	sv := s.current
	if sv == nil {
		sv = s.servers[0]
	}
	sv.badUntil = s.now().Add(failoverCooldown)
	var doomed []*conn
	for c := range s.conns {
		if c.server == sv {
			doomed = append(doomed, c)
		}
	}
	s.mu.Unlock()
	s.log.Warn("leaving API server", "server", sv.url, "connections", len(doomed), "for", failoverCooldown)
	for _, c := range doomed {
		c.Close()
	}
}

// conn is a connection apiServers made; it forgets itself when closed.
type conn struct {
	net.Conn
	s      *apiServers
	server *server
	once   sync.Once
}

func (c *conn) Close() error {
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
	})
	return c.Conn.Close()
}
