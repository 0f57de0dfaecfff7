package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable prints findings as an aligned table, one line per finding,
// followed by a summary line.
func WriteTable(w io.Writer, findings []Finding) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tCHECK\tSETTING\tCURRENT\tRECOMMENDED\tWHY")
	for _, f := range findings {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Severity, f.Check, f.Setting, cell(f.Current), cell(f.Recommended), f.Why)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, summary(findings))
	return err
}

func cell(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// summary reads "3 ok, 2 info, 1 warning, 0 error".
func summary(findings []Finding) string {
	c := Count(findings)
	parts := make([]string, 0, len(c))
	for _, s := range Severities() {
		parts = append(parts, fmt.Sprintf("%d %s", c[s], s))
	}
	return strings.Join(parts, ", ")
}

// Report is the JSON form of a doctor run.
type Report struct {
	Worst    Severity         `json:"worst"`
	Counts   map[Severity]int `json:"counts"`
	Findings []Finding        `json:"findings"`
}

// WriteJSON prints findings as an indented JSON [Report].
func WriteJSON(w io.Writer, findings []Finding) error {
	if findings == nil {
		findings = []Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(Report{Worst: Worst(findings), Counts: Count(findings), Findings: findings})
}
