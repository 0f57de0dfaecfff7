package lab

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The audit log is how the lab counts the daemons' requests: every request
// made with a node certificate (NodeGroup), resource and non-resource
// alike (the watchdog's /readyz included), as the API server itself
// records it. A FlowSchema cannot count them all: the API server's
// mandatory "probes" schema takes /readyz before any schema of ours, and
// one that out-ranked it would change how those requests are served.

// auditPolicy records the node group's requests at level Metadata (who,
// what, when; no bodies) and nothing else. Omitting the RequestReceived
// stage leaves one line per request, two for a watch (ResponseStarted,
// ResponseComplete); the count is by auditID.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  userGroups: ["` + NodeGroup + `"]
- level: None
`

// auditArgs are kube-apiserver's flags for the audit log in dir; the
// policy file is written first.
func auditArgs(dir string) ([]string, error) {
	policy := filepath.Join(dir, "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
		return nil, fmt.Errorf("audit policy: %w", err)
	}
	return []string{
		"--audit-policy-file=" + policy,
		"--audit-log-path=" + filepath.Join(dir, "audit.log"),
		"--audit-log-format=json",
		"--audit-log-mode=blocking", // every line written before the answer: nothing pending when we read
		"--audit-log-maxsize=0",     // never rotate: the counts read one file
	}, nil
}

// auditCounts counts the daemons' requests received before at, by
// request and by node, from the audit log at path. A missing log counts
// nothing.
func auditCounts(path string, at time.Time) (byRequest, byNode map[string]float64, err error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return map[string]float64{}, map[string]float64{}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return countAudit(f, at)
}

// countAudit reads audit lines (JSON, one event a line) and counts the
// requests received before at, once per auditID. Lines that are not
// audit events are skipped.
func countAudit(r io.Reader, at time.Time) (byRequest, byNode map[string]float64, err error) {
	events, err := parseAudit(r)
	byRequest, byNode = map[string]float64{}, map[string]float64{}
	seen := map[string]bool{}
	for _, e := range events {
		if e.ID == "" || seen[e.ID] || !e.Received.Before(at) {
			continue
		}
		seen[e.ID] = true
		byRequest[e.key()]++
		if !e.LocalCheck {
			byNode[strings.TrimPrefix(e.User, "vipkeeper:")]++
		}
	}
	return byRequest, byNode, err
}

// rates divides counts by secs, leaving out keys with none.
func rates(after, before map[string]float64, secs float64) map[string]float64 {
	r := map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			r[k] = d / secs
		}
	}
	return r
}

// busiest are m's keys, busiest first.
func busiest(m map[string]float64) []string {
	keys := slices.Sorted(maps.Keys(m))
	slices.SortStableFunc(keys, func(x, y string) int {
		switch {
		case m[x] > m[y]:
			return -1
		case m[x] < m[y]:
			return 1
		}
		return 0
	})
	return keys
}

func formatRates(m map[string]float64) string {
	var parts []string
	for _, k := range busiest(m) {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func (l *Lab) auditLog() string { return filepath.Join(l.Dir, "audit.log") }

// AuditEvent is one request of the node group, as the audit log has it
// (a watch has two lines, one ID).
type AuditEvent struct {
	ID        string // the auditID
	User      string
	Verb      string
	APIGroup  string
	Resource  string // with "/subresource" if any; empty for a non-resource request
	Namespace string
	Name      string
	Path      string // the request URI without its query
	Code      int32  // the response's HTTP status
	Received  time.Time
	// LocalCheck: the request is the daemon's check of its own API
	// server's /readyz (--api-server-check; user agent "… api-server-check").
	// It goes to the node's own API server, not to the shared control
	// plane, so the counts keep it apart from the daemons' budget.
	LocalCheck bool
}

// localCheckAgent ends the user agent of the local API server check
// (pkg/kube.LocalClient's purpose).
const localCheckAgent = " api-server-check"

// localCheckSuffix marks the local check's line in the counts by request.
const localCheckSuffix = " (local check)"

// key is "verb resource[/subresource]" or, for a non-resource request,
// "verb /path".
func (e AuditEvent) key() string {
	if e.Resource == "" {
		k := e.Verb + " " + e.Path
		if e.LocalCheck {
			k += localCheckSuffix
		}
		return k
	}
	return e.Verb + " " + e.Resource
}

func (e AuditEvent) String() string {
	return fmt.Sprintf("%s %s %s %s/%s/%s → %d", e.User, e.Verb, e.APIGroup, e.Resource, e.Namespace, e.Name, e.Code)
}

// AuditOffset is where the audit log ends now: AuditEvents(offset) returns
// what was logged from here on.
func (l *Lab) AuditOffset() int64 {
	l.t.Helper()
	st, err := os.Stat(l.auditLog())
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		l.t.Fatalf("audit log: %v", err)
	}
	return st.Size()
}

// AuditEvents returns the node group's requests logged since offset
// (Options.Audit must be set).
func (l *Lab) AuditEvents(offset int64) []AuditEvent {
	l.t.Helper()
	if !l.opts.Audit {
		l.t.Fatal("AuditEvents: the lab runs without Options.Audit")
	}
	f, err := os.Open(l.auditLog())
	if err != nil {
		l.t.Fatalf("audit log: %v", err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		l.t.Fatalf("audit log: %v", err)
	}
	events, err := parseAudit(f)
	if err != nil {
		l.t.Fatalf("audit log: %v", err)
	}
	return events
}

// parseAudit reads audit.k8s.io/v1 Events, one JSON object a line; a last
// line still being written is skipped.
func parseAudit(r io.Reader) ([]AuditEvent, error) {
	var out []AuditEvent
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20) // an event is ~1 KB; room for long URIs
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var ev struct {
			AuditID    string                    `json:"auditID"`
			Verb       string                    `json:"verb"`
			RequestURI string                    `json:"requestURI"`
			User       struct{ Username string } `json:"user"`
			ObjectRef  *struct {
				Resource, Namespace, Name, APIGroup, Subresource string
			} `json:"objectRef"`
			UserAgent      string                `json:"userAgent"`
			ResponseStatus *struct{ Code int32 } `json:"responseStatus"`
			Received       time.Time             `json:"requestReceivedTimestamp"`
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			continue // a partial last line, or not an audit event
		}
		path, _, _ := strings.Cut(ev.RequestURI, "?")
		a := AuditEvent{ID: ev.AuditID, User: ev.User.Username, Verb: ev.Verb, Path: path, Received: ev.Received,
			LocalCheck: strings.HasSuffix(ev.UserAgent, localCheckAgent)}
		if ref := ev.ObjectRef; ref != nil {
			a.APIGroup, a.Resource, a.Namespace, a.Name = ref.APIGroup, ref.Resource, ref.Namespace, ref.Name
			if ref.Subresource != "" {
				a.Resource += "/" + ref.Subresource
			}
		}
		if ev.ResponseStatus != nil {
			a.Code = ev.ResponseStatus.Code
		}
		out = append(out, a)
	}
	return out, sc.Err()
}
