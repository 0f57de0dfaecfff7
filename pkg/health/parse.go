package health

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// statusOption is the optional suffix of an HTTP check value.
const statusOption = ",status="

// ParseHTTPCheck parses one HTTP check:
//
//	URL[,status=MIN-MAX]   e.g. https://127.0.0.1:6443/livez,status=200-299
//	URL[,status=CODE]      e.g. http://192.0.2.10:8080/healthz,status=204
//
// The URL must be absolute with scheme http or https and a host. Without a
// status option the accepted range is DefaultStatusMin-DefaultStatusMax. The
// check's Name is left empty (see ParseChecks, which also splits lists);
// errors are *FieldError with Field "health-http".
func ParseHTTPCheck(s string) (Check, error) {
	raw, lo, hi := s, DefaultStatusMin, DefaultStatusMax
	if i := strings.LastIndex(s, ","); i >= 0 && strings.HasPrefix(s[i:], statusOption) {
		var err error
		if lo, hi, err = parseStatus(s[i+len(statusOption):]); err != nil {
			return Check{}, fieldErr(fieldHTTP, "status option: %w", err)
		}
		raw = s[:i]
	}
	u, err := parseURL(raw)
	if err != nil {
		return Check{}, fieldErr(fieldHTTP, "%w", err)
	}
	return Check{Kind: KindHTTP, Target: u.String(), StatusMin: lo, StatusMax: hi}, nil
}

// parseStatus parses "MIN-MAX" or "CODE".
func parseStatus(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if !isRange {
		b = a
	}
	if lo, err = parseCode(a); err != nil {
		return 0, 0, err
	}
	if hi, err = parseCode(b); err != nil {
		return 0, 0, err
	}
	return lo, hi, checkStatusRange(lo, hi)
}

func parseCode(s string) (int, error) {
	if len(s) != 3 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("status %q is not a three-digit code", s)
	}
	return strconv.Atoi(s)
}

// parseURL checks an HTTP check's URL. Error messages show the URL with any
// password redacted.
func parseURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, errEmpty
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole URL, password included
		}
		return nil, fmt.Errorf("not a URL: %w", err)
	}
	shown := u.Redacted()
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q: scheme must be http or https", shown)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%q: URL has no host", shown)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%q: port %q is not 1-65535", shown, p)
		}
	}
	return u, nil
}

// ParseICMPCheck parses an ICMP check value: an IPv4 or IPv6 address, e.g.
// "192.0.2.1" or "2001:db8::1". A zone ("fe80::1%eth0") is accepted only for
// a link-local address. Unspecified, multicast and broadcast addresses are
// rejected. The check's Name is left empty (see ParseChecks); errors are
// *FieldError with Field "health-icmp".
func ParseICMPCheck(s string) (Check, error) {
	a, err := parseICMPTarget(s)
	if err != nil {
		return Check{}, fieldErr(fieldICMP, "%w", err)
	}
	return Check{Kind: KindICMP, Target: a.String()}, nil
}

func parseICMPTarget(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, errEmpty
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	}
	a = a.Unmap()
	switch {
	case a.IsUnspecified(), a.IsMulticast(), a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return netip.Addr{}, fmt.Errorf("%s is not a unicast address", a)
	case a.Zone() != "" && !a.IsLinkLocalUnicast():
		return netip.Addr{}, fmt.Errorf("%s: a zone is allowed only on a link-local address", a)
	}
	return a, nil
}

// ParseChecks parses the values of the repeatable HTTP and ICMP settings and
// names the checks http-0, http-1, …, icmp-0, icmp-1, … in order.
//
// Like other list settings, each value may hold several comma-separated
// items, with spaces around items ignored and empty items skipped. An HTTP
// item "status=…" is the status option of the URL before it, so
// "https://192.0.2.1/livez,status=200-299,http://192.0.2.2/" is two checks.
// A comma inside a URL must therefore be written %2C. Pass the raw values:
// do not split them first.
func ParseChecks(httpValues, icmpValues []string) ([]Check, error) {
	var checks []Check
	for _, v := range httpValues {
		specs, err := splitHTTP(v)
		if err != nil {
			return nil, err
		}
		for _, spec := range specs {
			c, err := ParseHTTPCheck(spec)
			if err != nil {
				return nil, err
			}
			c.Name = fmt.Sprintf("http-%d", len(checks))
			checks = append(checks, c)
		}
	}
	n := 0
	for _, v := range icmpValues {
		for _, item := range splitList(v) {
			c, err := ParseICMPCheck(item)
			if err != nil {
				return nil, err
			}
			c.Name = fmt.Sprintf("icmp-%d", n)
			n++
			checks = append(checks, c)
		}
	}
	return checks, nil
}

// splitList splits a list value at commas, trims spaces, drops empty items.
func splitList(v string) []string {
	var items []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			items = append(items, s)
		}
	}
	return items
}

// splitHTTP splits an HTTP list value into ParseHTTPCheck specs, joining each
// status option to the URL before it.
func splitHTTP(v string) ([]string, error) {
	var specs []string
	hasStatus := false
	for _, item := range splitList(v) {
		if !strings.HasPrefix(item, statusOption[1:]) {
			specs, hasStatus = append(specs, item), false
			continue
		}
		if len(specs) == 0 || hasStatus {
			return nil, fieldErr(fieldHTTP, "%q must follow a URL, once", item)
		}
		specs[len(specs)-1] += "," + item
		hasStatus = true
	}
	return specs, nil
}
