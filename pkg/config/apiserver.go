package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
)

// applyAPIServers parses --api-server: HTTPS URLs of API servers, in order
// of preference; repeated or comma-separated.
func applyAPIServers(c *Config, vals []string) error {
	c.APIServers = c.APIServers[:0]
	for _, s := range listItems(vals) {
		u, err := ParseAPIServer(s)
		if err != nil {
			return err
		}
		c.APIServers = append(c.APIServers, u.String())
	}
	return nil
}

// ParseAPIServer parses one API server URL: https://host[:port], with no
// path, query or credentials (a kubeconfig carries those), the port 1 to
// 65535. Errors never show the URL's user information.
func ParseAPIServer(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	shown := redact(s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%q is not a URL", shown)
	case u.Scheme != "https":
		return nil, fmt.Errorf("%q: want an https:// URL, e.g. https://127.0.0.1:6443", shown)
	case u.Hostname() == "":
		return nil, fmt.Errorf("%q has no host", shown)
	case u.User != nil, u.RawQuery != "", u.Fragment != "", u.Path != "" && u.Path != "/", u.Opaque != "":
		return nil, fmt.Errorf("%q: want only https://host[:port]", shown)
	}
	if p := u.Port(); p != "" || u.Host[len(u.Host)-1] == ':' {
		if err := checkPort(p); err != nil {
			return nil, fmt.Errorf("%q: %w", shown, err)
		}
	}
	u.Path = ""
	return u, nil
}

// checkPort reports whether p is a TCP port number, 1 to 65535.
func checkPort(p string) error {
	if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 1 to 65535", p)
	}
	return nil
}

// isHTTPS reports whether the URL s uses https.
func isHTTPS(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https"
}

// ErrAPIServerIsVIP is the error of an --api-server that is one of the VIPs.
var ErrAPIServerIsVIP = errors.New("is the VIP this node keeps: electing through it deadlocks once its holder is gone (kube-vip#684); use this node's own API server, e.g. https://127.0.0.1:6443, then the other control-plane nodes' addresses")

// validateAPIServers refuses duplicates and any API server addressed by a
// VIP. A host name that resolves to a VIP cannot be caught here; the
// documentation says to use addresses.
func (c *Config) validateAPIServers() error {
	seen := map[string]bool{}
	for _, s := range c.APIServers {
		if seen[s] {
			return bad("api-server", "%s is given twice", s)
		}
		seen[s] = true
		u, _ := url.Parse(s) // parsed by applyAPIServers
		if vip, ok := c.isVIP(u.Hostname()); ok {
			return &fieldError{name: "api-server", also: []string{"vip"}, err: fmt.Errorf("%s: %s %w", s, vip, ErrAPIServerIsVIP)}
		}
	}
	return nil
}

// isVIP reports whether host is an address of one of the VIPs.
func (c *Config) isVIP(host string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	a = a.Unmap().WithZone("")
	for _, v := range c.VIPs {
		if v == a {
			return v, true
		}
	}
	return netip.Addr{}, false
}

// ServerIsVIP reports whether the API server URL server (a kubeconfig's)
// is addressed by one of the VIPs: then, without --api-server, vipkeeper
// would elect through the VIP it keeps.
func (c *Config) ServerIsVIP(server string) bool {
	u, err := url.Parse(server)
	if err != nil {
		return false
	}
	_, ok := c.isVIP(u.Hostname())
	return ok
}
