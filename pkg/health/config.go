package health

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/vipkeeper/vipkeeper/pkg/ifname"
)

// Kind is the type of a check.
type Kind string

// The kinds of check.
const (
	KindHTTP Kind = "http" // HTTP or HTTPS GET, judged by status code
	KindICMP Kind = "icmp" // one ICMP or ICMPv6 echo request
)

// Defaults, chosen so that a dead local API server keeps the node out of the
// election within about two seconds while one lost probe changes nothing.
const (
	DefaultInterval  = time.Second
	DefaultTimeout   = 500 * time.Millisecond
	DefaultRise      = 2
	DefaultFall      = 2
	DefaultStatusMin = 200 // accepted HTTP status range: 2xx and 3xx
	DefaultStatusMax = 399
)

// Check is one health check.
type Check struct {
	// Name is a short, stable label such as "http-0"; it is used in logs and
	// as a metric label, so it never holds an address or URL.
	Name   string
	Kind   Kind
	Target string // URL for KindHTTP; IP address for KindICMP

	// HTTP only.
	StatusMin, StatusMax int    // accepted status range, inclusive
	CAFile               string // extra CA bundle for https, added to the system roots
	InsecureSkipVerify   bool   // skip TLS verification; only when the operator asked
}

// Config configures a Prober. Start from DefaultConfig: Validate rejects zero
// durations and counts rather than silently replacing them.
type Config struct {
	Checks   []Check
	Interval time.Duration // time between probes of one check
	Timeout  time.Duration // bound of one probe; less than Interval
	Rise     int           // consecutive good probes for a down check to come up
	Fall     int           // consecutive failed probes for an up check to go down

	// Interface is the link to track; "" disables link tracking. The link
	// being down, without carrier or gone is an immediate failure.
	Interface string

	// Observe, if set, is called after every probe with the check's name,
	// its result and how long it took. It is called from the checks'
	// goroutines, concurrently, and must be fast (e.g. update metrics).
	Observe func(check string, ok bool, took time.Duration)
}

// DefaultConfig returns a Config with the default timings and no checks.
func DefaultConfig() Config {
	return Config{Interval: DefaultInterval, Timeout: DefaultTimeout, Rise: DefaultRise, Fall: DefaultFall}
}

// FieldError is a validation error of one setting. Field is the suggested
// flag name without dashes: health-http, health-icmp, health-interval,
// health-timeout, health-rise, health-fall, health-ca-file,
// health-insecure-skip-verify or interface.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Field names used in errors.
const (
	fieldHTTP     = "health-http"
	fieldICMP     = "health-icmp"
	fieldInterval = "health-interval"
	fieldTimeout  = "health-timeout"
	fieldRise     = "health-rise"
	fieldFall     = "health-fall"
	fieldCAFile   = "health-ca-file"
	fieldInsecure = "health-insecure-skip-verify"
	fieldIface    = "interface"
)

// nameRE keeps check names usable as metric label values and log keys.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,31}$`)

// Validate reports the first invalid setting as a *FieldError.
func (c Config) Validate() error {
	if c.Interval <= 0 {
		return fieldErr(fieldInterval, "must be greater than 0, got %v", c.Interval)
	}
	if c.Timeout <= 0 {
		return fieldErr(fieldTimeout, "must be greater than 0, got %v", c.Timeout)
	}
	if c.Timeout >= c.Interval {
		return fieldErr(fieldTimeout, "%v must be less than health-interval %v", c.Timeout, c.Interval)
	}
	if c.Rise < 1 {
		return fieldErr(fieldRise, "must be at least 1, got %d", c.Rise)
	}
	if c.Fall < 1 {
		return fieldErr(fieldFall, "must be at least 1, got %d", c.Fall)
	}
	if c.Interface != "" {
		if err := ifname.Check(c.Interface); err != nil {
			return &FieldError{Field: fieldIface, Err: err}
		}
	}
	seen := make(map[string]bool, len(c.Checks))
	for i, ch := range c.Checks {
		if err := ch.validate(i); err != nil {
			return err
		}
		if seen[ch.Name] {
			return fieldErr(ch.field(), "check name %q is used twice", ch.Name)
		}
		seen[ch.Name] = true
	}
	return nil
}

// field is the flag a check comes from.
func (ch Check) field() string {
	if ch.Kind == KindICMP {
		return fieldICMP
	}
	return fieldHTTP
}

func (ch Check) validate(i int) error {
	if !nameRE.MatchString(ch.Name) {
		return fieldErr(ch.field(), "check %d: name %q must be 1-32 of [a-z0-9_.-] starting with a letter or digit", i, ch.Name)
	}
	switch ch.Kind {
	case KindHTTP:
		if _, err := parseURL(ch.Target); err != nil {
			return fieldErr(fieldHTTP, "check %s: %w", ch.Name, err)
		}
		if err := checkStatusRange(ch.StatusMin, ch.StatusMax); err != nil {
			return fieldErr(fieldHTTP, "check %s: %w", ch.Name, err)
		}
		if ch.CAFile != "" && ch.InsecureSkipVerify {
			return fieldErr(fieldInsecure, "check %s: cannot be combined with health-ca-file", ch.Name)
		}
	case KindICMP:
		if _, err := parseICMPTarget(ch.Target); err != nil {
			return fieldErr(fieldICMP, "check %s: %w", ch.Name, err)
		}
		if ch.CAFile != "" || ch.InsecureSkipVerify || ch.StatusMin != 0 || ch.StatusMax != 0 {
			return fieldErr(fieldICMP, "check %s: status range and TLS settings apply only to HTTP checks", ch.Name)
		}
	default:
		return fieldErr(fieldHTTP, "check %s: kind %q is not %q or %q", ch.Name, ch.Kind, KindHTTP, KindICMP)
	}
	return nil
}

// HTTP status codes are three digits, 100-599 (RFC 9110 §15).
const minStatus, maxStatus = 100, 599

func checkStatusRange(lo, hi int) error {
	if lo < minStatus || hi > maxStatus || lo > hi {
		return fmt.Errorf("status range %d-%d is not within %d-%d with min ≤ max", lo, hi, minStatus, maxStatus)
	}
	return nil
}

// errEmpty is returned for an empty check value.
var errEmpty = errors.New("empty value")
