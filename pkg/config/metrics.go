package config

import (
	"fmt"
	"net"
)

// DefaultMetricsAddr is the default of --metrics-addr: loopback only, so
// nothing is exposed off the node unless the operator says so. 9479 is
// free in Prometheus's default port allocations list.
const DefaultMetricsAddr = "127.0.0.1:9479"

// applyMetricsAddr sets --metrics-addr: host:port, host optional (":9479"
// listens on every address); "" disables the listener.
func applyMetricsAddr(c *Config, v []string) error {
	addr := v[0]
	if addr != "" {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("%q is not host:port (e.g. %s, or empty to disable)", addr, DefaultMetricsAddr)
		}
		if err := checkPort(port); err != nil {
			return fmt.Errorf("%q: %w", addr, err)
		}
		if ip := net.ParseIP(host); host != "" && ip == nil && !validHost(host) {
			return fmt.Errorf("%q: %q is neither an IP address nor a host name", addr, host)
		}
	}
	c.MetricsAddr = addr
	return nil
}

// validHost accepts a DNS name such as "localhost" or "node1.example".
func validHost(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}
