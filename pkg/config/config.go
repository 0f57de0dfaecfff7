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
)

// Config is the validated configuration of `vipkeeper run`.
type Config struct {
	NodeName       string
	Kubeconfig     string
	APIServers     []string // replace the kubeconfig's server, in order of preference
	VIPs           []netip.Addr
	Interface      string
	LeaseName      string
	LeaseNamespace string
	LeaseDuration  time.Duration
	RenewDeadline  time.Duration
	RetryPeriod    time.Duration
	SafetyMargin   time.Duration
	APIOutage      string
	// Witness is "peers" (a ride past the deadline needs a peer heard on
	// the VIP's link) or "none" (no witness: a deliberate group of one).
	Witness           string
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
	// ServicesNamespace is --services-namespace, "" when unset; the
	// namespace in use is ServicesLeaseNamespace.
	ServicesNamespace string
	// ServicePools are the address pools, in configuration order; validated
	// together (ipam.New) and never holding a VIP. Empty unless Services.
	ServicePools []ipam.PoolSpec
	// ServicePoolObjects reads the pools from the AddressPool objects
	// instead of ServicePools (which is then empty), live.
	ServicePoolObjects bool
	// ServicesQPS and ServicesBurst rate-limit the Services API client,
	// which is separate from the Lease client.
	ServicesQPS   float32
	ServicesBurst int

	// Health is the health prober's configuration: checks parsed, link
	// tracking on the VIP interface.
	Health health.Config

	// APIServerCheck is the check of this node's own API server, which
	// gates the control-plane VIP's candidacy (--api-server-check…).
	APIServerCheck APIServerCheck

	healthHTTP, healthICMP []string
	healthCAFile           string
	healthInsecure         bool

	// values holds each option's merged raw values by flag name, for
	// Settings (manifests render the same settings back out).
	values map[string][]string
	// sources holds where each set or defaulted option came from, by flag
	// name, for errors (Source).
	sources map[string]string
}

// APIServerCheck is the check of the first --api-server's /readyz.
type APIServerCheck struct {
	Enabled           bool
	Interval, Timeout time.Duration
	Rise, Fall        int
}

// Sources are where Load reads settings from. Nil functions fall back to
// the process's own environment, file system and hostname.
type Sources struct {
	Args      []string // the arguments after `run`
	LookupEnv func(string) (string, bool)
	// Environ lists the environment as KEY=VALUE, for the check that no
	// VIPKEEPER_* variable is a misspelled setting. When nil: os.Environ
	// if LookupEnv is nil too, else nothing (a caller that hides the
	// environment hides it from this check as well).
	Environ  func() []string
	ReadFile func(string) ([]byte, error) // nil: reads at most maxFileSize+1 bytes
	Hostname func() (string, error)
}

// ErrHelp is returned when the arguments asked for usage text.
var ErrHelp = pflag.ErrHelp

// Error is a configuration error. It names where the bad value came from:
// a flag, an environment variable, a config-file field, or the hostname.
// Its message is one line of printable text (a value's control characters
// are escaped) and never shows a password or token written in a URL.
type Error struct {
	Source string // e.g. "--lease-duration", "VIPKEEPER_VIP", "config file /etc/x.yaml: field leaseName"
	Err    error
}

func (e *Error) Error() string { return printable(redact(e.Source + ": " + e.Err.Error())) }
func (e *Error) Unwrap() error { return e.Err }

// setting is one option's value with where it came from.
type setting struct {
	vals   []string
	source string
}

// defaultSource is the source of a value nobody set.
func defaultSource(name string) string { return "default of --" + name }

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
// process is touched; the host-dependent checks are in CheckHost. An error
// is a *Error, and then no Config is returned.
func Load(src Sources) (*Config, error) {
	if src.Environ == nil {
		src.Environ = func() []string { return nil }
		if src.LookupEnv == nil {
			src.Environ = os.Environ
		}
	}
	if src.LookupEnv == nil {
		src.LookupEnv = os.LookupEnv
	}
	if src.ReadFile == nil {
		src.ReadFile = readFile
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
	if err := checkEnvironment(src.Environ()); err != nil {
		return nil, err
	}

	layers := map[string]setting{}
	for _, o := range options {
		if o.def != "" {
			layers[o.name] = setting{vals: []string{o.def}, source: defaultSource(o.name)}
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
			source := "config file " + path
			var fe *fileError
			if errors.As(err, &fe) && fe.key != "" {
				source += ": field " + fe.key
			}
			return nil, &Error{Source: source, Err: err}
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

	c := &Config{values: map[string][]string{}, sources: map[string]string{}}
	for _, o := range options {
		s, ok := layers[o.name]
		if !ok {
			continue
		}
		c.sources[o.name] = s.source
		c.values[o.name] = s.vals
		if err := o.apply(c, s.vals); err != nil {
			return nil, &Error{Source: s.source, Err: err}
		}
	}
	if _, set := layers["node-name"]; !set {
		h, err := src.Hostname()
		if err != nil {
			return nil, &Error{Source: "hostname", Err: fmt.Errorf("--node-name is not set and the hostname is unknown: %w", err)}
		}
		// kubelet lowercases the hostname it takes as the node name, too.
		c.NodeName = strings.ToLower(strings.TrimSpace(h))
		c.sources["node-name"] = "hostname"
	}
	if err := c.validate(); err != nil {
		return nil, c.blame(err)
	}
	return c, nil
}

// Source returns where the setting with flag name came from: "--name",
// "VIPKEEPER_NAME", "config file PATH: field key", "default of --name", or
// "hostname" for a node name taken from it. For an unset setting without
// a default it returns "--name", the way to set it.
func (c *Config) Source(name string) string {
	if s := c.sources[name]; s != "" {
		return s
	}
	return "--" + name
}

// userSet reports whether someone set the setting (not its default).
func (c *Config) userSet(name string) bool {
	s := c.sources[name]
	return s != "" && s != defaultSource(name)
}

// blame turns a validation failure into an Error naming the source of the
// setting at fault: for a relation between settings, the first of them
// that someone set, not another one's default.
func (c *Config) blame(err error) error {
	var fe *fieldError
	if !errors.As(err, &fe) {
		return &Error{Source: "configuration", Err: err}
	}
	name := fe.name
	for _, n := range append([]string{fe.name}, fe.also...) {
		if c.userSet(n) {
			name = n
			break
		}
	}
	return &Error{Source: c.Source(name), Err: fe.err}
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
