package config

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"time"

	"github.com/vipkeeper/vipkeeper/pkg/health"
)

// fieldError is a validation failure of one option; Load turns it into an
// Error naming the layer the value came from. also lists the other
// settings of a relation: the error blames the first of name and also that
// someone set, so that a relation never blames another setting's default.
type fieldError struct {
	name string
	also []string
	err  error
}

func (e *fieldError) Error() string { return "--" + e.name + ": " + e.err.Error() }

func bad(name, format string, args ...any) error {
	return &fieldError{name: name, err: fmt.Errorf(format, args...)}
}

// relation is a failed rule between settings: names in the order to
// blame them (see fieldError).
func relation(names []string, format string, args ...any) error {
	return &fieldError{name: names[0], also: names[1:], err: fmt.Errorf(format, args...)}
}

// validate checks every setting on its own (names, the bounds table) and
// then the rules between them.
func (c *Config) validate() error {
	if err := c.validateNames(); err != nil {
		return err
	}
	if len(c.VIPs) == 0 && !c.Services {
		return bad("vip", "at least one --vip is required unless --services is set")
	}
	var v4, v6 int
	seen := map[netip.Addr]bool{}
	for _, a := range c.VIPs {
		if seen[a] {
			return bad("vip", "%s is given twice", a)
		}
		seen[a] = true
		if a.Is4() {
			v4++
		} else {
			v6++
		}
	}
	if v4 > 1 || v6 > 1 {
		return bad("vip", "at most one IPv4 and one IPv6 VIP (got %d IPv4, %d IPv6)", v4, v6)
	}
	if err := c.checkBounds(); err != nil {
		return err
	}
	if err := c.validateTimings(); err != nil {
		return err
	}
	switch c.APIOutage {
	case "hold", "release":
	default:
		return bad("api-outage", "%q is not one of hold, release", c.APIOutage)
	}
	if err := c.validateAPIServers(); err != nil {
		return err
	}
	if err := c.validateAPIServerCheck(); err != nil {
		return err
	}
	if err := c.validateServices(); err != nil {
		return err
	}
	if err := c.buildHealth(); err != nil {
		return err
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return bad("log-level", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return bad("log-format", "%q is not one of text, json", c.LogFormat)
	}
	return nil
}

// validateTimings checks the rules between the lease timings
// (docs/safety.md); each setting's own range is in the bounds table.
func (c *Config) validateTimings() error {
	for _, t := range []struct {
		name string
		d    time.Duration
	}{{"lease-duration", c.LeaseDuration}, {"renew-deadline", c.RenewDeadline}, {"retry-period", c.RetryPeriod}} {
		if t.d%time.Millisecond != 0 {
			return bad(t.name, "%v is finer than a millisecond, the granularity of lease timings", t.d)
		}
	}
	if c.LeaseDuration <= c.RenewDeadline {
		return relation([]string{"renew-deadline", "lease-duration"}, "--renew-deadline %v must be less than --lease-duration %v", c.RenewDeadline, c.LeaseDuration)
	}
	if float64(c.RenewDeadline) <= 1.2*float64(c.RetryPeriod) {
		return relation([]string{"renew-deadline", "retry-period"}, "--renew-deadline %v must be greater than 1.2 × --retry-period %v", c.RenewDeadline, c.RetryPeriod)
	}
	if c.SafetyMargin > c.LeaseDuration/2 {
		return relation([]string{"safety-margin", "lease-duration"}, "--safety-margin %v must be at most half of --lease-duration %v", c.SafetyMargin, c.LeaseDuration)
	}
	if c.RenewDeadline+c.SafetyMargin >= c.LeaseDuration {
		return relation([]string{"renew-deadline", "safety-margin", "lease-duration"},
			"--renew-deadline %v + --safety-margin %v must be less than --lease-duration %v: a holder that cannot renew must be gone before a follower can take the lease (docs/safety.md)",
			c.RenewDeadline, c.SafetyMargin, c.LeaseDuration)
	}
	if c.TakeoverProbe > c.RenewDeadline/2 {
		return relation([]string{"takeover-probe", "renew-deadline"}, "--takeover-probe %v must be at most half of --renew-deadline %v", c.TakeoverProbe, c.RenewDeadline)
	}
	if c.APIServerCheck.Timeout >= c.APIServerCheck.Interval {
		return relation([]string{"api-server-check-timeout", "api-server-check-interval"}, "--api-server-check-timeout %v must be less than --api-server-check-interval %v", c.APIServerCheck.Timeout, c.APIServerCheck.Interval)
	}
	if c.Health.Timeout >= c.Health.Interval {
		return relation([]string{"health-timeout", "health-interval"}, "--health-timeout %v must be less than --health-interval %v", c.Health.Timeout, c.Health.Interval)
	}
	return nil
}

// buildHealth parses the health checks and validates the prober's
// settings; its errors name the health flag at fault.
func (c *Config) buildHealth() error {
	checks, err := health.ParseChecks(c.healthHTTP, c.healthICMP)
	if err == nil {
		https := false
		for i := range checks {
			if checks[i].Kind == health.KindHTTP {
				checks[i].CAFile = c.healthCAFile
				checks[i].InsecureSkipVerify = c.healthInsecure
				https = https || isHTTPS(checks[i].Target)
			}
		}
		switch {
		case c.healthCAFile != "" && !https:
			return relation([]string{"health-ca-file", "health-http"}, "no --health-http check uses https, so the CA bundle would be read for nothing")
		case c.healthInsecure && !https:
			return relation([]string{"health-insecure-skip-verify", "health-http"}, "no --health-http check uses https, so there is nothing to skip")
		}
		c.Health.Checks = checks
		c.Health.Interface = c.Interface
		err = c.Health.Validate()
	}
	var fe *health.FieldError
	if errors.As(err, &fe) {
		if fe.Field == "health-insecure-skip-verify" {
			return &fieldError{name: fe.Field, also: []string{"health-ca-file"}, err: fe.Err}
		}
		return &fieldError{name: fe.Field, err: fe.Err}
	}
	return err
}

// validateAPIServerCheck refuses a check of the local API server that
// could not know which server is local, or would gate nothing. That the
// kubeconfig has a CA to verify it with is checked when the daemon
// loads the kubeconfig (kube.LocalClient).
func (c *Config) validateAPIServerCheck() error {
	if !c.APIServerCheck.Enabled {
		return nil
	}
	if len(c.APIServers) == 0 {
		return relation([]string{"api-server-check", "api-server"}, "checks the first --api-server, this node's own API server (e.g. https://127.0.0.1:6443), and none is set")
	}
	if len(c.VIPs) == 0 {
		return relation([]string{"api-server-check", "vip"}, "gates the control-plane VIP's candidacy alone, and no --vip is set")
	}
	return nil
}

// WithAPIServerCheck returns c with --api-server-check on when nobody set
// it, for a deployment where the check is the default (the static pod:
// a control-plane node's VIP fronts its own API server); c itself when
// someone set it, on or off. The copy is validated like the setting at
// start-up, and an error names source as where the setting came from.
func (c *Config) WithAPIServerCheck(source string) (*Config, error) {
	if c.userSet("api-server-check") {
		return c, nil
	}
	cp := *c
	cp.values, cp.sources = maps.Clone(c.values), maps.Clone(c.sources)
	cp.values["api-server-check"] = []string{"true"}
	cp.sources["api-server-check"] = source
	cp.APIServerCheck.Enabled = true
	if err := cp.validateAPIServerCheck(); err != nil {
		return nil, cp.blame(err)
	}
	return &cp, nil
}

// UserSet reports whether someone set the setting with flag name, by a
// flag, a variable or the config file, rather than leaving its default.
func (c *Config) UserSet(name string) bool { return c.userSet(name) }
