package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// bound is the range of one numeric setting, each end with its reason.
// This table is the one place where settings' ranges live; the rules
// between settings are in validateTimings and buildHealth.
type bound struct {
	name     string
	value    func(*Config) float64
	duration bool // value is a time.Duration, shown as one

	min    float64
	minWhy string
	max    float64 // 0: no maximum of its own (maxRel bounds it)
	maxWhy string
	maxRel string // the rule with another setting that bounds it, for the docs

	zeroOff bool // 0 is allowed and turns the feature off
}

func dur(f func(*Config) time.Duration) func(*Config) float64 {
	return func(c *Config) float64 { return float64(f(c)) }
}

func num[T int | float32](f func(*Config) T) func(*Config) float64 {
	return func(c *Config) float64 { return float64(f(c)) }
}

// bounds lists every numeric setting's range.
var bounds = []bound{
	{name: "lease-duration", duration: true, value: dur(func(c *Config) time.Duration { return c.LeaseDuration }),
		min: float64(time.Second), minWhy: "a Lease stores its duration in whole seconds; a shorter one would be written as 0, which the API server refuses",
		max: float64(10 * time.Minute), maxWhy: "a failover waits this long; beyond ten minutes the VIP is no longer highly available (and 1000000h would overflow the Lease's 32-bit seconds)"},
	{name: "renew-deadline", duration: true, value: dur(func(c *Config) time.Duration { return c.RenewDeadline }),
		min:    float64(500 * time.Millisecond),
		minWhy: "each renewal request may take half of it (the lease client's timeout); below 250 ms an ordinary slow answer of a busy API server counts as a failed renewal and the VIP flaps",
		maxRel: "less than --lease-duration − --safety-margin"},
	{name: "retry-period", duration: true, value: dur(func(c *Config) time.Duration { return c.RetryPeriod }),
		min:    float64(200 * time.Millisecond),
		minWhy: "every node sends a Lease request each period and the lease client allows 5 requests a second: a shorter period is throttled, not faster",
		maxRel: "less than --renew-deadline / 1.2"},
	{name: "safety-margin", duration: true, value: dur(func(c *Config) time.Duration { return c.SafetyMargin }),
		min:    float64(100 * time.Millisecond),
		minWhy: "covers removing the VIP (a netlink call, ~1 ms) and a clock-rate difference between nodes of up to 1% over a 5 s lease, with room to spare (docs/safety.md)",
		maxRel: "at most half of --lease-duration"},
	{name: "takeover-probe", duration: true, zeroOff: true, value: dur(func(c *Config) time.Duration { return c.TakeoverProbe }),
		min:    float64(10 * time.Millisecond),
		minWhy: "a previous holder's answer takes a round trip plus that host's scheduling; a shorter wait hears nobody, which makes the probe a no-op (write 0 for that)",
		maxRel: "at most half of --renew-deadline"},
	{name: "announce-refresh", duration: true, zeroOff: true, value: dur(func(c *Config) time.Duration { return c.AnnounceRefresh }),
		min:    float64(time.Second),
		minWhy: "each refresh sends a gratuitous ARP/NA per VIP to every host on the segment; RFC 5227 spaces announcements 2 s apart, and faster is a broadcast storm",
		max:    float64(time.Hour), maxWhy: "the refresh repairs neighbours and switches that forgot the VIP (switch MAC tables age out after 300 s by default); rarer repairs nothing, so write 0 to turn it off"},
	{name: "reconcile-interval", duration: true, value: dur(func(c *Config) time.Duration { return c.ReconcileInterval }),
		min:    float64(time.Second),
		minWhy: "netlink events start a reconcile at once; the periodic one only backs up a lost event and reads every address of the interface, so more often burns CPU for nothing",
		max:    float64(10 * time.Minute), maxWhy: "a VIP removed behind a lost netlink event stays missing until the next periodic reconcile"},
	{name: "health-interval", duration: true, value: dur(func(c *Config) time.Duration { return c.Health.Interval }),
		min:    float64(100 * time.Millisecond),
		minWhy: "each period sends one probe per check to the checked service; faster loads it without deciding faster than the lease timings",
		max:    float64(time.Minute), maxWhy: "a failed service is noticed only after --health-fall periods; slower keeps a broken node holding the VIP for minutes"},
	{name: "health-timeout", duration: true, value: dur(func(c *Config) time.Duration { return c.Health.Timeout }),
		min:    float64(10 * time.Millisecond),
		minWhy: "connecting and scheduling alone take milliseconds; a shorter timeout fails healthy checks",
		maxRel: "less than --health-interval"},
	{name: "health-rise", value: num(func(c *Config) int { return c.Health.Rise }),
		min: 1, minWhy: "a check needs at least one good probe to pass",
		max: 100, maxWhy: "a check then changes state only after this many probes in a row (100 s at the default interval); more is a typo, not a debounce"},
	{name: "health-fall", value: num(func(c *Config) int { return c.Health.Fall }),
		min: 1, minWhy: "a check needs at least one failed probe to fail",
		max: 100, maxWhy: "a check then changes state only after this many probes in a row (100 s at the default interval); more is a typo, not a debounce"},
	{name: "api-server-check-interval", duration: true, value: dur(func(c *Config) time.Duration { return c.APIServerCheck.Interval }),
		min:    float64(100 * time.Millisecond),
		minWhy: "each check is a TLS handshake and a GET to the local API server; faster loads it without moving the VIP sooner than a Lease handover takes",
		max:    float64(10 * time.Second), maxWhy: "a stopped local API server keeps the VIP for --api-server-check-fall intervals, and every client of the VIP fails meanwhile"},
	{name: "api-server-check-timeout", duration: true, value: dur(func(c *Config) time.Duration { return c.APIServerCheck.Timeout }),
		min:    float64(10 * time.Millisecond),
		minWhy: "a TLS handshake with the local API server alone takes milliseconds; a shorter timeout fails a ready server",
		maxRel: "less than --api-server-check-interval"},
	{name: "api-server-check-rise", value: num(func(c *Config) int { return c.APIServerCheck.Rise }),
		min: 1, minWhy: "the local API server needs at least one good check to be ready",
		max: 100, maxWhy: "the node then rejoins only after this many checks in a row (50 s at the default interval); more is a typo, not a debounce"},
	{name: "api-server-check-fall", value: num(func(c *Config) int { return c.APIServerCheck.Fall }),
		min: 1, minWhy: "the local API server needs at least one failed check to be not ready",
		max: 100, maxWhy: "a dead local API server then keeps the VIP for this many checks (50 s at the default interval); more is a typo, not a debounce"},
	{name: "services-qps", value: num(func(c *Config) float32 { return c.ServicesQPS }),
		min: 1, minWhy: "slower, a resync of a few hundred Services takes minutes of status and claim writes",
		max: 1000, maxWhy: "a thousand Services' writes fit in a second at this rate; more from one node only risks overloading the API server for every other client"},
	{name: "services-burst", value: num(func(c *Config) int { return c.ServicesBurst }),
		min: 1, minWhy: "the rate limiter needs at least one token",
		max: 10000, maxWhy: "a larger burst lets one resync send that many requests at once"},
}

// checkBounds checks every setting of the bounds table.
func (c *Config) checkBounds() error {
	for _, b := range bounds {
		v := b.value(c)
		if b.zeroOff && v == 0 {
			continue
		}
		if v < b.min {
			off := ""
			if b.zeroOff {
				off = " (0 turns it off)"
			}
			return bad(b.name, "%s is below the minimum of %s%s: %s", b.show(v), b.show(b.min), off, b.minWhy)
		}
		if b.max > 0 && v > b.max {
			return bad(b.name, "%s is above the maximum of %s: %s", b.show(v), b.show(b.max), b.maxWhy)
		}
	}
	return nil
}

// show renders a value of b's setting as the user would write it.
func (b bound) show(v float64) string {
	if b.duration {
		s := time.Duration(v).String() // "10m0s", "1h0m0s": drop the zero units
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		return s
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// Bounds renders the bounds table as Markdown, for the documentation
// (README.md embeds it, and a test keeps the two identical).
func Bounds() string {
	var sb strings.Builder
	sb.WriteString("| setting | minimum | maximum | why |\n|---|---|---|---|\n")
	for _, b := range bounds {
		lo := b.show(b.min)
		if b.zeroOff {
			lo = "0 (off), else " + lo
		}
		hi, why := b.maxRel, b.minWhy
		if b.max > 0 {
			hi = b.show(b.max)
			why += "; at most " + hi + ": " + b.maxWhy
		}
		fmt.Fprintf(&sb, "| `--%s` | %s | %s | at least %s: %s |\n", b.name, lo, hi, b.show(b.min), why)
	}
	return sb.String()
}
