package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The HA control-plane scenarios in the benchmark (`make bench`): each run
// on a fresh HA lab, with the client's figures tabulated apart from the
// HTTP prober's.

// haBenchScenarios are the HA scenarios the benchmark runs, in order.
var haBenchScenarios = []struct {
	name string
	run  func(*testing.T, *haMeasurement)
}{
	{"ha-apiserver-kill", scenarioHAKill},
	{"ha-apiserver-restart", scenarioHATerm},
	{"ha-rolling", scenarioHARolling},
	{"ha-node-crash", scenarioHANodeCrash},
	{"ha-all-down", scenarioHAAllDown},
	{"ha-bootstrap", scenarioHABootstrap},
}

// haRow is one HA scenario's figures over its runs.
type haRow struct {
	Scenario             string  `json:"scenario"`
	Runs                 int     `json:"runs"`
	Skipped              string  `json:"skipped"`
	Passed               int     `json:"passed"`
	Check                bool    `json:"api_server_check"`
	ReadOutageMedianMS   float64 `json:"read_outage_median_ms"`
	ReadOutageMaxMS      float64 `json:"read_outage_max_ms"`
	TakeoverMedianMS     float64 `json:"takeover_median_ms"`
	ReadyToServeMedianMS float64 `json:"ready_to_serve_median_ms"`
	FailedReadsMedian    float64 `json:"failed_reads_median"`
	FailedReadsMax       int     `json:"failed_reads_max"`
	FailedWritesMedian   float64 `json:"failed_writes_median"`
	ResetsMedian         float64 `json:"resets_median"`
	Reads                int     `json:"reads"`  // over all runs
	Writes               int     `json:"writes"` // over all runs
	OverlapSamplesMax    int     `json:"overlap_samples_max"`
}

// runHABench runs the HA scenarios (those in only, if set) runs times each.
func runHABench(t *testing.T, runs int, only []string) ([]haRow, []haMeasurement) {
	var rows []haRow
	var all []haMeasurement
	for _, sc := range haBenchScenarios {
		if only != nil && !slices.Contains(only, sc.name) {
			continue
		}
		var ms []haMeasurement
		var skipped string
		for k := 1; k <= runs; k++ {
			m := &haMeasurement{Scenario: sc.name}
			t.Run(fmt.Sprintf("%s/%d", sc.name, k), func(t *testing.T) {
				defer func() {
					if t.Skipped() {
						skipped = "skipped (see the log)"
					}
				}()
				sc.run(t, m)
			})
			if skipped != "" {
				break // a skip (no --api-server-check) repeats on every run
			}
			ms = append(ms, *m)
		}
		rows = append(rows, aggregateHA(sc.name, ms, skipped))
		all = append(all, ms...)
	}
	return rows, all
}

func aggregateHA(name string, ms []haMeasurement, skipped string) haRow {
	r := haRow{Scenario: name, Runs: len(ms), Skipped: skipped}
	var outage, take, ready, fr, fw, resets []float64
	for _, m := range ms {
		if m.Passed {
			r.Passed++
		}
		r.Check = r.Check || m.Check
		outage = append(outage, m.ReadOutageMS)
		if m.TakeoverMS > 0 {
			take = append(take, m.TakeoverMS)
		}
		if m.ReadyToServeMS > 0 {
			ready = append(ready, m.ReadyToServeMS)
		}
		fr = append(fr, float64(m.Client.FailedReads))
		fw = append(fw, float64(m.Client.FailedWrites))
		resets = append(resets, float64(m.Client.Resets))
		r.FailedReadsMax = max(r.FailedReadsMax, m.Client.FailedReads)
		r.Reads += m.Client.Reads
		r.Writes += m.Client.Writes
		r.OverlapSamplesMax = max(r.OverlapSamplesMax, m.OverlapSamples)
	}
	r.ReadOutageMedianMS, r.ReadOutageMaxMS = median(outage), slices.Max(append(outage, 0))
	r.TakeoverMedianMS, r.ReadyToServeMedianMS = median(take), median(ready)
	r.FailedReadsMedian, r.FailedWritesMedian, r.ResetsMedian = median(fr), median(fw), median(resets)
	return r
}

// haTable renders the HA rows as Markdown.
func haTable(rows []haRow) string {
	if len(rows) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\nHA control plane (a kube-apiserver per node, one etcd; --api-server-check 500 ms × fall 2, rise 2; " +
		"kube-apiserver --shutdown-delay-duration 3s). A client-go client reads through the VIP every 50 ms and writes every 250 ms; " +
		"failed = after client-go's retries; resets = connection resets beneath client-go (it retries a read after one).\n\n")
	b.WriteString("| scenario | runs | passed | read outage median (ms) | max (ms) | VIP moved median (ms) | ready → served median (ms) | failed reads median (max) | failed writes median | resets median | overlap samples max |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	dash := func(v float64) string {
		if v == 0 {
			return "–"
		}
		return fmt.Sprintf("%.0f", v)
	}
	for _, r := range rows {
		if r.Runs == 0 {
			fmt.Fprintf(&b, "| %s | 0 | – | – | – | – | – | – | – | – | – (%s) |\n", r.Scenario, r.Skipped)
			continue
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %.0f | %.0f | %s | %s | %.0f (%d) | %.0f | %.0f | %d |\n", r.Scenario, r.Runs, r.Passed,
			r.ReadOutageMedianMS, r.ReadOutageMaxMS, dash(r.TakeoverMedianMS), dash(r.ReadyToServeMedianMS),
			r.FailedReadsMedian, r.FailedReadsMax, r.FailedWritesMedian, r.ResetsMedian, r.OverlapSamplesMax)
	}
	return b.String()
}
