package doctor

import (
	"fmt"
)

// Severity says how much a finding matters for a VIP failover. Severities
// are ordered: a higher value is worse.
type Severity int

// Severities, from harmless to fatal for the VIP.
const (
	// OK: the setting is as recommended.
	OK Severity = iota
	// Info: worth knowing; failovers work either way or only some setups
	// are affected.
	Info
	// Warning: established connections, or some traffic, will not survive a
	// failover as they could.
	Warning
	// Error: the VIP itself will not work from this node.
	Error
)

var severityNames = [...]string{OK: "ok", Info: "info", Warning: "warning", Error: "error"}

// String returns "ok", "info", "warning" or "error".
func (s Severity) String() string {
	if s < OK || s > Error {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// MarshalText encodes the severity as its name, also in JSON.
func (s Severity) MarshalText() ([]byte, error) {
	if s < OK || s > Error {
		return nil, fmt.Errorf("unknown severity %d", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	for i, n := range severityNames {
		if n == string(b) {
			*s = Severity(i)
			return nil
		}
	}
	return fmt.Errorf("unknown severity %q", b)
}

// Severities lists every severity in order, e.g. to pre-create metric
// series.
func Severities() []Severity { return []Severity{OK, Info, Warning, Error} }

// Finding is the outcome of one check of one setting.
type Finding struct {
	// Check names the check. For a sysctl that [Apply] can set it is also
	// the name --apply takes, e.g. "sloppy_tcp".
	Check string `json:"check"`
	// Setting is what was looked at: a sysctl name such as
	// "net.ipv4.vs.sloppy_tcp", a /sys path, or a ConfigMap key.
	Setting string `json:"setting"`
	// Current is the value found, "" when the setting was not there.
	Current string `json:"current"`
	// Recommended is the value or range we recommend.
	Recommended string `json:"recommended"`
	// Severity of Current against Recommended.
	Severity Severity `json:"severity"`
	// Why it matters for a VIP failover, in an operator's words.
	Why string `json:"why"`
}

// Worst returns the highest severity among findings, OK for none.
func Worst(findings []Finding) Severity {
	w := OK
	for _, f := range findings {
		w = max(w, f.Severity)
	}
	return w
}

// Count returns how many findings have each severity; every severity is a
// key, also with a zero count.
func Count(findings []Finding) map[Severity]int {
	c := make(map[Severity]int, len(severityNames))
	for _, s := range Severities() {
		c[s] = 0
	}
	for _, f := range findings {
		c[f.Severity]++
	}
	return c
}
