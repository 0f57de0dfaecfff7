package lab

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// auditPolicy logs every request of the node group at Metadata level
// (who, verb, object; no bodies) and nothing else, once per request:
// RequestReceived is left out, so a request is one event (a watch two:
// ResponseStarted and ResponseComplete).
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  userGroups: ["` + NodeGroup + `"]
- level: None
`

func (l *Lab) auditLog() string { return filepath.Join(l.Dir, "audit.log") }

// auditArgs writes the policy and returns kube-apiserver's audit flags.
func (l *Lab) auditArgs() ([]string, error) {
	policy := filepath.Join(l.Dir, "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
		return nil, err
	}
	return []string{"--audit-policy-file=" + policy, "--audit-log-path=" + l.auditLog(), "--audit-log-format=json"}, nil
}

// AuditEvent is one request of the node group, as the audit log has it.
type AuditEvent struct {
	User      string
	Verb      string
	APIGroup  string
	Resource  string // with "/subresource" if any
	Namespace string
	Name      string
	Code      int32 // the response's HTTP status
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
			Verb      string                    `json:"verb"`
			User      struct{ Username string } `json:"user"`
			ObjectRef *struct {
				Resource, Namespace, Name, APIGroup, Subresource string
			} `json:"objectRef"`
			ResponseStatus *struct{ Code int32 } `json:"responseStatus"`
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			continue // a partial last line
		}
		a := AuditEvent{User: ev.User.Username, Verb: ev.Verb}
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
