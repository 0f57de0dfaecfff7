package lab

import (
	"bufio"
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

// auditEvent is what the lab reads of one audit line.
type auditEvent struct {
	AuditID    string `json:"auditID"`
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	User       struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	Received time.Time `json:"requestReceivedTimestamp"`
}

// key is "verb resource[/subresource]" or, for a non-resource request,
// "verb /path".
func (e auditEvent) key() string {
	if e.ObjectRef == nil {
		path, _, _ := strings.Cut(e.RequestURI, "?")
		return e.Verb + " " + path
	}
	k := e.Verb + " " + e.ObjectRef.Resource
	if e.ObjectRef.Subresource != "" {
		k += "/" + e.ObjectRef.Subresource
	}
	return k
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
	byRequest, byNode = map[string]float64{}, map[string]float64{}
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20) // a line is ~1 KB; leave room
	for sc.Scan() {
		var e auditEvent
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.AuditID == "" || seen[e.AuditID] || !e.Received.Before(at) {
			continue
		}
		seen[e.AuditID] = true
		byRequest[e.key()]++
		byNode[strings.TrimPrefix(e.User.Username, "vipkeeper:")]++
	}
	return byRequest, byNode, sc.Err()
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
