package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/vipkeeper/vipkeeper/pkg/health"
	"github.com/vipkeeper/vipkeeper/pkg/services/ipam"
	"github.com/vipkeeper/vipkeeper/pkg/vip"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Config is the validated configuration of `vipkeeper run`.
type Config struct {
	NodeName          string
	Kubeconfig        string
	APIServers        []string // replace the kubeconfig's server, in order of preference
	VIPs              []netip.Addr
	Interface         string
	LeaseName         string
	LeaseNamespace    string
	LeaseDuration     time.Duration
	RenewDeadline     time.Duration
	RetryPeriod       time.Duration
	SafetyMargin      time.Duration
	APIOutage         string
	TakeoverProbe     time.Duration
	AnnounceRefresh   time.Duration
	ReconcileInterval time.Duration
	LogLevel          string
	LogFormat         string
	MetricsAddr       string // listen address of /metrics, /healthz and /readyz; "" disables them

	// Services runs the LoadBalancer Services controller (docs/services.md).
	Services bool
	// ServicesDefaultClass: also handle LoadBalancer Services without a
	// spec.loadBalancerClass.
	ServicesDefaultClass bool
	// ServicePools are the address pools, in configuration order; validated
	// together (ipam.New) and never holding a VIP. Empty unless Services.
	ServicePools []ipam.PoolSpec
	// ServicesQPS and ServicesBurst rate-limit the Services API client,
	// which is separate from the Lease client.
	ServicesQPS   float32
	ServicesBurst int

	// Health is the health prober's configuration: checks parsed, link
	// tracking on the VIP interface.
	Health health.Config

	healthHTTP, healthICMP []string
	healthCAFile           string
	healthInsecure         bool

	// values holds each option's merged raw values by flag name, for
	// Settings (manifests render the same settings back out).
	values map[string][]string
}

// Sources are where Load reads settings from. Nil functions fall back to
// the process's own environment, file system and hostname.
type Sources struct {
	Args      []string // the arguments after `run`
	LookupEnv func(string) (string, bool)
	ReadFile  func(string) ([]byte, error)
	Hostname  func() (string, error)
}

// ErrHelp is returned when the arguments asked for usage text.
var ErrHelp = pflag.ErrHelp

// Error is a configuration error. It names where the bad value came from:
// a flag, an environment variable or a config-file field.
type Error struct {
	Source string // e.g. "--lease-duration", "VIPKEEPER_VIP", "config file /etc/x.yaml: field leaseName"
	Err    error
}

func (e *Error) Error() string { return e.Source + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// setting is one option's value with where it came from.
type setting struct {
	vals   []string
	source string
}

// FlagSet returns the flags of `vipkeeper run`, for parsing and for usage
// text. Every flag is a string (or string list): values are parsed after the
// layers are merged, so an error can name the layer it came from.
func FlagSet(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.Var(&textValue{typ: "file"}, "config", "YAML config file (flags > environment > file > defaults)")
	for _, o := range options {
		switch {
		case o.list:
			fs.Var(&listValue{typ: o.typ}, o.name, o.usage)
		default:
			fs.Var(&textValue{v: o.def, typ: o.typ}, o.name, o.usage)
		}
		if o.flag {
			fs.Lookup(o.name).NoOptDefVal = "true"
		}
	}
	return fs
}

// Load merges defaults, the config file, the environment and the flags (in
// increasing precedence), then validates the result. Nothing outside the
// process is touched; the host-dependent checks are in CheckHost.
func Load(src Sources) (*Config, error) {
	if src.LookupEnv == nil {
		src.LookupEnv = os.LookupEnv
	}
	if src.ReadFile == nil {
		src.ReadFile = os.ReadFile
	}
	if src.Hostname == nil {
		src.Hostname = os.Hostname
	}
	fs := FlagSet("run")
	fs.SetOutput(discard{})
	if err := fs.Parse(src.Args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, ErrHelp
		}
		return nil, &Error{Source: "command line", Err: err}
	}
	if fs.NArg() > 0 {
		return nil, &Error{Source: "command line", Err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}

	layers := map[string]setting{}
	for _, o := range options {
		if o.def != "" {
			layers[o.name] = setting{vals: []string{o.def}, source: "default of --" + o.name}
		}
	}

	path := fs.Lookup("config").Value.String()
	pathSource := "--config"
	if !fs.Changed("config") {
		path, _ = src.LookupEnv(EnvVar("config"))
		pathSource = EnvVar("config")
	}
	if path != "" {
		data, err := src.ReadFile(path)
		if err != nil {
			return nil, &Error{Source: pathSource, Err: fmt.Errorf("cannot read config file: %w", err)}
		}
		fileVals, err := parseFile(data)
		if err != nil {
			return nil, &Error{Source: "config file " + path, Err: err}
		}
		for name, vals := range fileVals {
			layers[name] = setting{vals: vals, source: "config file " + path + ": field " + YAMLKey(name)}
		}
	}

	for _, o := range options {
		if v, ok := src.LookupEnv(EnvVar(o.name)); ok {
			layers[o.name] = setting{vals: []string{v}, source: EnvVar(o.name)}
		}
	}

	for _, o := range options {
		if !fs.Changed(o.name) {
			continue
		}
		var vals []string
		switch v := fs.Lookup(o.name).Value.(type) {
		case *listValue:
			vals = v.v
		default:
			vals = []string{v.String()}
		}
		layers[o.name] = setting{vals: vals, source: "--" + o.name}
	}

	c := &Config{values: map[string][]string{}}
	sources := map[string]string{}
	for _, o := range options {
		s, ok := layers[o.name]
		if !ok {
			continue
		}
		sources[o.name] = s.source
		c.values[o.name] = s.vals
		if err := o.apply(c, s.vals); err != nil {
			return nil, &Error{Source: s.source, Err: err}
		}
	}
	if c.NodeName == "" {
		h, err := src.Hostname()
		if err != nil {
			return nil, &Error{Source: "--node-name", Err: fmt.Errorf("not set and the hostname is unknown: %w", err)}
		}
		c.NodeName = h
		sources["node-name"] = "hostname"
	}
	if err := c.validate(); err != nil {
		var ve *fieldError
		if errors.As(err, &ve) {
			src := sources[ve.name]
			if src == "" {
				src = "--" + ve.name
			}
			return nil, &Error{Source: src, Err: ve.err}
		}
		return nil, err
	}
	return c, nil
}

// fieldError is a validation failure of one option; Load turns it into an
// Error naming the layer the value came from.
type fieldError struct {
	name string
	err  error
}

func (e *fieldError) Error() string { return "--" + e.name + ": " + e.err.Error() }

func bad(name, format string, args ...any) error {
	return &fieldError{name: name, err: fmt.Errorf(format, args...)}
}

// minLeaseDuration exists because a Lease stores its duration in whole
// seconds: a shorter lease would be written as 0, which the API rejects.
const minLeaseDuration = time.Second

// minSafetyMargin covers removing the VIP (a netlink call, ~1 ms) and a
// clock-rate difference between nodes of up to 1% over a 5 s lease, with
// room to spare.
const minSafetyMargin = 100 * time.Millisecond

// validateFence rejects timings the kernel cannot enforce: every address
// gets a valid lifetime of ⌊lease − margin − lateness⌋ whole seconds at a
// renewal at best, and that must be at least a second (the kernel refuses
// 0) more than a retry period, so that the next renewal refreshes it before
// it runs out (docs/safety.md).
func (c *Config) validateFence() error {
	least := time.Second + c.RetryPeriod
	if left := c.LeaseDuration - c.SafetyMargin - vip.DefaultLateness; left < least {
		return bad("lease-duration", "%v − --safety-margin %v − the kernel's lateness %v leaves %v of address lifetime; it must be at least 1s + --retry-period (%v): raise --lease-duration to %v or more (docs/safety.md)",
			c.LeaseDuration, c.SafetyMargin, vip.DefaultLateness, left, least, (least + c.SafetyMargin + vip.DefaultLateness).Round(time.Millisecond))
	}
	return nil
}

func (c *Config) validate() error {
	if strings.TrimSpace(c.NodeName) == "" {
		return bad("node-name", "must not be empty")
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
	if c.Interface == "" {
		return bad("interface", "required: the interface that carries the VIP")
	}
	if len(c.Interface) > 15 || strings.ContainsAny(c.Interface, "/ \t\n:") {
		return bad("interface", "%q is not a valid interface name", c.Interface)
	}
	if errs := validation.IsDNS1123Subdomain(c.LeaseName); len(errs) > 0 {
		return bad("lease-name", "%q is not a valid object name: %s", c.LeaseName, errs[0])
	}
	if errs := validation.IsDNS1123Label(c.LeaseNamespace); len(errs) > 0 {
		return bad("lease-namespace", "%q is not a valid namespace: %s", c.LeaseNamespace, errs[0])
	}
	if c.RetryPeriod <= 0 {
		return bad("retry-period", "must be greater than 0")
	}
	if c.LeaseDuration < minLeaseDuration {
		return bad("lease-duration", "%v is shorter than %v (a Lease stores whole seconds)", c.LeaseDuration, minLeaseDuration)
	}
	for _, t := range []struct {
		name string
		d    time.Duration
	}{{"lease-duration", c.LeaseDuration}, {"renew-deadline", c.RenewDeadline}, {"retry-period", c.RetryPeriod}} {
		if t.d%time.Millisecond != 0 {
			return bad(t.name, "%v is finer than a millisecond, the granularity of lease timings", t.d)
		}
	}
	if c.LeaseDuration <= c.RenewDeadline {
		return bad("lease-duration", "%v must be greater than --renew-deadline %v", c.LeaseDuration, c.RenewDeadline)
	}
	if float64(c.RenewDeadline) <= 1.2*float64(c.RetryPeriod) {
		return bad("renew-deadline", "%v must be greater than 1.2 × --retry-period %v", c.RenewDeadline, c.RetryPeriod)
	}
	if c.SafetyMargin < minSafetyMargin || c.SafetyMargin > c.LeaseDuration/2 {
		return bad("safety-margin", "%v must be between %v and half of --lease-duration (%v)", c.SafetyMargin, minSafetyMargin, c.LeaseDuration/2)
	}
	if c.RenewDeadline+c.SafetyMargin >= c.LeaseDuration {
		return bad("renew-deadline", "%v + --safety-margin %v must be less than --lease-duration %v: a holder that cannot renew must be gone before a follower can take the lease (docs/safety.md)",
			c.RenewDeadline, c.SafetyMargin, c.LeaseDuration)
	}
	if err := c.validateFence(); err != nil {
		return err
	}
	switch c.APIOutage {
	case "hold", "release":
	default:
		return bad("api-outage", "%q is not one of hold, release", c.APIOutage)
	}
	if c.TakeoverProbe > c.RenewDeadline/2 {
		return bad("takeover-probe", "%v must be at most half of --renew-deadline (%v)", c.TakeoverProbe, c.RenewDeadline/2)
	}
	if err := c.validateAPIServers(); err != nil {
		return err
	}
	if err := c.validateServices(); err != nil {
		return err
	}
	if err := c.buildHealth(); err != nil {
		return err
	}
	if c.ReconcileInterval <= 0 {
		return bad("reconcile-interval", "must be greater than 0")
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

// buildHealth parses the health checks and validates the prober's
// settings; its errors name the health flag at fault.
func (c *Config) buildHealth() error {
	checks, err := health.ParseChecks(c.healthHTTP, c.healthICMP)
	if err == nil {
		for i := range checks {
			if checks[i].Kind == health.KindHTTP {
				checks[i].CAFile = c.healthCAFile
				checks[i].InsecureSkipVerify = c.healthInsecure
			}
		}
		c.Health.Checks = checks
		c.Health.Interface = c.Interface
		err = c.Health.Validate()
	}
	var fe *health.FieldError
	if errors.As(err, &fe) {
		return &fieldError{name: fe.Field, err: fe.Err}
	}
	return err
}

// CheckHost runs the checks that need the node: the interface exists and the
// kubeconfig (or the in-cluster configuration) is readable. It reads; it
// changes nothing.
func (c *Config) CheckHost(interfaceExists func(string) error, lookupEnv func(string) (string, bool)) error {
	if err := interfaceExists(c.Interface); err != nil {
		return &Error{Source: "--interface", Err: fmt.Errorf("%q: %w", c.Interface, err)}
	}
	if c.Kubeconfig == "" {
		_, hostOK := lookupEnv("KUBERNETES_SERVICE_HOST")
		_, portOK := lookupEnv("KUBERNETES_SERVICE_PORT")
		if !hostOK || !portOK {
			return &Error{Source: "--kubeconfig", Err: errors.New("not set, and not running in a cluster (KUBERNETES_SERVICE_HOST is unset)")}
		}
	}
	return nil
}

// Names lists every flag name, sorted; used by documentation tests.
func Names() []string {
	n := []string{"config"}
	for _, o := range options {
		n = append(n, o.name)
	}
	sort.Strings(n)
	return n
}

// textValue is a flag's text as given; values are parsed after the layers
// are merged, so that an error can name the layer it came from. typ is what
// the usage text calls the value.
type textValue struct{ v, typ string }

func (t *textValue) Set(s string) error { t.v = s; return nil }
func (t *textValue) String() string     { return t.v }
func (t *textValue) Type() string       { return t.typ }

// listValue collects a repeatable flag's values in order.
type listValue struct {
	v   []string
	typ string
}

func (l *listValue) Set(s string) error { l.v = append(l.v, s); return nil }
func (l *listValue) String() string     { return strings.Join(l.v, ",") }
func (l *listValue) Type() string       { return l.typ + "s" }

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
