package lab

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// APICounts is one scrape of the API server's request counters.
type APICounts struct {
	At time.Time
	// Requests are apiserver_request_total summed over response codes and
	// API versions, by "VERB resource[/subresource]" (e.g. "PUT leases",
	// "PUT services/status", "WATCH services"), for resource requests of
	// every client: the daemons, the API server's own loopback controllers
	// and the test. Non-resource requests (/metrics, /readyz) are left out.
	Requests map[string]float64
	// Nodes is every request of the daemons, and only theirs, resource and
	// non-resource alike, from the audit log (Options.Audit; 0
	// without it).
	Nodes float64
	// NodeRequests are the daemons' requests by "verb resource" or "verb
	// /path" (audit verbs: get, update, watch, …), from the audit log.
	NodeRequests map[string]float64
	// ByNode are the daemons' requests by node name, from the audit log,
	// without LocalCheck.
	ByNode map[string]float64
	// LocalCheck is the daemons' checks of their own API server
	// (--api-server-check), in NodeRequests as "get /readyz (local check)"
	// but not in Nodes or ByNode: each goes to the node's own API server.
	LocalCheck float64
}

// APIRequests scrapes the API server's /metrics with the admin client and
// counts the daemons' requests in the audit log. The scrape itself is a
// non-resource GET of the admin: it counts nowhere.
func (l *Lab) APIRequests(ctx context.Context) (APICounts, error) {
	body, err := l.admin.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return APICounts{}, fmt.Errorf("scrape kube-apiserver /metrics: %w", err)
	}
	c, err := parseAPICounts(string(body), time.Now())
	if err != nil {
		return c, err
	}
	if !l.opts.Audit {
		return c, nil
	}
	if c.NodeRequests, c.ByNode, err = auditCounts(filepath.Join(l.Dir, "audit.log"), c.At); err != nil {
		return c, fmt.Errorf("count the daemons' requests in the audit log: %w", err)
	}
	for k, v := range c.NodeRequests {
		if strings.HasSuffix(k, localCheckSuffix) {
			c.LocalCheck += v
		} else {
			c.Nodes += v
		}
	}
	return c, nil
}

// parseAPICounts reads the two counters of APICounts from Prometheus text
// exposition.
func parseAPICounts(body string, at time.Time) (APICounts, error) {
	c := APICounts{At: at, Requests: map[string]float64{}}
	var sawRequests bool
	for line := range strings.Lines(body) {
		name, labels, value, ok := parseSample(strings.TrimSpace(line))
		if !ok {
			continue
		}
		switch name {
		case "apiserver_request_total":
			sawRequests = true
			if labels["resource"] == "" {
				continue
			}
			key := labels["verb"] + " " + labels["resource"]
			if sub := labels["subresource"]; sub != "" {
				key += "/" + sub
			}
			c.Requests[key] += value
		}
	}
	if !sawRequests {
		return c, fmt.Errorf("no apiserver_request_total in the scrape")
	}
	return c, nil
}

// parseSample splits `name{k="v",…} value [timestamp]`. Comments and
// malformed lines give ok = false.
func parseSample(line string) (name string, labels map[string]string, value float64, ok bool) {
	if line == "" || line[0] == '#' {
		return "", nil, 0, false
	}
	rest := line
	labels = map[string]string{}
	if i := strings.IndexAny(line, "{ "); i < 0 {
		return "", nil, 0, false
	} else if name, rest = line[:i], line[i:]; rest[0] == '{' {
		rest = rest[1:]
		for {
			rest = strings.TrimLeft(rest, ", ")
			if strings.HasPrefix(rest, "}") {
				rest = rest[1:]
				break
			}
			eq := strings.Index(rest, `="`)
			if eq < 0 {
				return "", nil, 0, false
			}
			key := rest[:eq]
			val, tail, good := unquote(rest[eq+1:])
			if !good {
				return "", nil, 0, false
			}
			labels[key], rest = val, tail
		}
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return "", nil, 0, false
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	return name, labels, v, err == nil
}

// unquote reads a quoted label value with \\, \" and \n escapes from the
// start of s and returns it and what follows.
func unquote(s string) (val, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", false
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], true
		case '\\':
			if i+1 == len(s) {
				return "", "", false
			}
			i++
			if s[i] == 'n' {
				b.WriteByte('\n')
			} else {
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false
}

// APILoad is the request rate between two scrapes.
type APILoad struct {
	Window time.Duration
	// NodesPerSecond is the daemons' rate (the audit log): the figure to
	// hold against a target.
	NodesPerSecond float64
	// NodeRequests and ByNode are the daemons' rates by request and by
	// node (see APICounts).
	NodeRequests, ByNode map[string]float64
	// LocalCheckPerSecond is the daemons' checks of their own API server,
	// apart from NodesPerSecond (see APICounts.LocalCheck).
	LocalCheckPerSecond float64
	// PerSecond is every client's rate by "VERB resource" (see
	// APICounts.Requests); keys with no requests in the window are left out.
	PerSecond map[string]float64
	// TotalPerSecond is the sum of PerSecond.
	TotalPerSecond float64
}

// Since is the load from before to c.
func (c APICounts) Since(before APICounts) APILoad {
	w := c.At.Sub(before.At)
	load := APILoad{Window: w, PerSecond: map[string]float64{}}
	if w <= 0 {
		return load
	}
	secs := w.Seconds()
	load.NodesPerSecond = (c.Nodes - before.Nodes) / secs
	load.LocalCheckPerSecond = (c.LocalCheck - before.LocalCheck) / secs
	load.NodeRequests, load.ByNode = rates(c.NodeRequests, before.NodeRequests, secs), rates(c.ByNode, before.ByNode, secs)
	for k, v := range c.Requests {
		if d := v - before.Requests[k]; d > 0 {
			load.PerSecond[k] = d / secs
			load.TotalPerSecond += d / secs
		}
	}
	return load
}

// Keys are PerSecond's keys, busiest first.
func (a APILoad) Keys() []string { return busiest(a.PerSecond) }

// String is "daemons R req/s (by request: …; by node: …); all clients T
// req/s: VERB resource r, …", busiest first.
func (a APILoad) String() string {
	local := ""
	if a.LocalCheckPerSecond > 0 {
		local = fmt.Sprintf("; each node's check of its own API server apart: %.2f req/s", a.LocalCheckPerSecond)
	}
	return fmt.Sprintf("daemons %.2f req/s (by request: %s; by node: %s)%s; all clients %.2f req/s: %s",
		a.NodesPerSecond, formatRates(a.NodeRequests), formatRates(a.ByNode), local, a.TotalPerSecond, formatRates(a.PerSecond))
}
