package e2e

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/e2e/lab"
)

// The failover benchmark (`make bench`): the suite's own scenarios, run N
// times each on a fresh lab, tabulated. It runs only when asked:
//
//	cd e2e && VIPKEEPER_BENCH=1 go test -count=1 -v -timeout 150m -run '^TestBench$' .
const (
	envBench          = "VIPKEEPER_BENCH"           // "1" runs it
	envBenchRuns      = "VIPKEEPER_BENCH_RUNS"      // runs per scenario; default 5
	envBenchScenarios = "VIPKEEPER_BENCH_SCENARIOS" // comma-separated subset of benchScenarios
	envBenchOut       = "VIPKEEPER_BENCH_OUT"       // directory for bench.json and bench.md; default .artifacts
)

// benchScenarios are the scenarios the benchmark runs, in order.
var benchScenarios = []struct {
	name string
	run  func(*testing.T, *measurement)
}{
	{"graceful", scenarioGraceful},
	{"crash", func(t *testing.T, m *measurement) { scenarioCrash(t, m, 0) }},
	{"api-outage", scenarioAPIOutage},
	{"api-freeze", scenarioAPIFreeze},
	{"api-partition", scenarioAPIPartition},
	{"health-fail", scenarioHealthFail},
	{"freeze", scenarioFreeze},
	{"peer-partition", scenarioPeerPartition},
}

// benchRow is one scenario's figures over its runs.
type benchRow struct {
	Scenario         string  `json:"scenario"`
	Runs             int     `json:"runs"`    // runs that were not skipped
	Skipped          string  `json:"skipped"` // why, if every run was skipped
	Passed           int     `json:"passed"`  // runs whose assertions all held
	Recovered        int     `json:"recovered"`
	DowntimeMedianMS float64 `json:"downtime_median_ms"`
	DowntimeMaxMS    float64 `json:"downtime_max_ms"`
	TakeoverMedianMS float64 `json:"takeover_median_ms"`
	OverlapMaxMS     float64 `json:"overlap_max_ms"`
	LostMedian       float64 `json:"lost_probes_median"`
	LostMax          int     `json:"lost_probes_max"`
}

// benchReport is what bench.json holds.
type benchReport struct {
	Date    string         `json:"date"`
	Machine map[string]any `json:"machine"`
	Lease   map[string]any `json:"lease"`
	Prober  map[string]any `json:"prober"`
	Rows    []benchRow     `json:"rows"`
	// APILoad is the daemons' steady-state API load (scenario "api-load").
	APILoad *steadyLoad   `json:"api_load,omitempty"`
	Results []measurement `json:"results"`
	// HA are the HA control-plane scenarios (bench_ha_test.go).
	HA        []haRow         `json:"ha,omitempty"`
	HAResults []haMeasurement `json:"ha_results,omitempty"`
}

func TestBench(t *testing.T) {
	if os.Getenv(envBench) != "1" {
		t.Skipf("the failover benchmark runs only with %s=1 (make bench)", envBench)
	}
	runs := 5
	if v := os.Getenv(envBenchRuns); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			t.Fatalf("%s=%q: want a number of runs, 1..100", envBenchRuns, v)
		}
		runs = n
	}
	var only []string
	if v := os.Getenv(envBenchScenarios); v != "" {
		only = strings.Split(v, ",")
	}
	report := benchReport{
		Date:    time.Now().UTC().Format(time.RFC3339),
		Machine: machine(),
		Lease:   map[string]any{"lease_duration": "5s", "renew_deadline": "3s", "retry_period": "1s"},
		// The instruments' defaults (instruments/prober.go, monitor.go).
		Prober: map[string]any{"interval": "20ms", "timeout": "100ms", "owner_sample_interval": "25ms"},
	}
	if only == nil || slices.Contains(only, "api-load") {
		t.Run("api-load", func(t *testing.T) {
			load := measureSteadyLoad(t)
			report.APILoad = &load
		})
	}
	for _, sc := range benchScenarios {
		if only != nil && !slices.Contains(only, sc.name) {
			continue
		}
		var ms []measurement
		var skipped string
		for k := 1; k <= runs; k++ {
			m := &measurement{Scenario: sc.name}
			var skip string
			t.Run(fmt.Sprintf("%s/%d", sc.name, k), func(t *testing.T) {
				defer func() {
					if t.Skipped() {
						skip = "skipped (see the log)"
					}
				}()
				sc.run(t, m)
			})
			if skip != "" {
				skipped = skip
				break // a skip (missing daemon flag) repeats on every run
			}
			ms = append(ms, *m)
		}
		report.Rows = append(report.Rows, aggregate(sc.name, ms, skipped))
		report.Results = append(report.Results, ms...)
	}
	report.HA, report.HAResults = runHABench(t, runs, only)
	table := benchTable(report) + haTable(report.HA)
	fmt.Fprint(os.Stdout, "\n"+table)
	t.Log("\n" + table)
	dir := cmp.Or(os.Getenv(envBenchOut), ".artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(report, "", "  ")
	for name, data := range map[string][]byte{"bench.json": append(b, '\n'), "bench.md": []byte(table)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote %s and %s", filepath.Join(dir, "bench.json"), filepath.Join(dir, "bench.md"))
}

// aggregate turns a scenario's runs into its row.
func aggregate(name string, ms []measurement, skipped string) benchRow {
	r := benchRow{Scenario: name, Runs: len(ms), Skipped: skipped}
	var down, take, lost []float64
	for _, m := range ms {
		if m.Passed {
			r.Passed++
		}
		if m.Recovered {
			r.Recovered++
		}
		down = append(down, m.DowntimeMS)
		if m.TakeoverMS > 0 {
			take = append(take, m.TakeoverMS)
		}
		lost = append(lost, float64(m.Lost))
		r.OverlapMaxMS = max(r.OverlapMaxMS, m.OverlapMS)
		r.LostMax = max(r.LostMax, m.Lost)
	}
	r.DowntimeMedianMS, r.DowntimeMaxMS = median(down), slices.Max(append(down, 0))
	r.TakeoverMedianMS, r.LostMedian = median(take), median(lost)
	return r
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// benchTable renders the rows as a Markdown table with its settings.
func benchTable(r benchReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Failover benchmark, %s — %v CPUs, kernel %v, %v, vipkeeper %v\n", r.Date,
		r.Machine["nproc"], r.Machine["kernel"], r.Machine["go"], r.Machine["vipkeeper"])
	fmt.Fprintf(&b, "Lease %v/%v/%v (duration/renew deadline/retry period); client probe every %v (timeout %v), owners sampled every %v.\n\n",
		r.Lease["lease_duration"], r.Lease["renew_deadline"], r.Lease["retry_period"],
		r.Prober["interval"], r.Prober["timeout"], r.Prober["owner_sample_interval"])
	if len(r.Rows) > 0 { // none when only HA scenarios were asked for
		b.WriteString("| scenario | runs | passed | recovered | downtime median (ms) | downtime max (ms) | takeover median (ms) | overlap max (ms) | lost probes median (max) |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	}
	for _, row := range r.Rows {
		if row.Runs == 0 {
			fmt.Fprintf(&b, "| %s | 0 | – | – | – | – | – | – | – (%s) |\n", row.Scenario, cmp.Or(row.Skipped, "not run"))
			continue
		}
		take := "–"
		if row.TakeoverMedianMS > 0 {
			take = fmt.Sprintf("%.0f", row.TakeoverMedianMS)
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d/%d | %.0f | %.0f | %s | %.0f | %.0f (%d) |\n", row.Scenario, row.Runs, row.Passed,
			row.Recovered, row.Runs, row.DowntimeMedianMS, row.DowntimeMaxMS, take, row.OverlapMaxMS, row.LostMedian, row.LostMax)
	}
	if a := r.APILoad; a != nil {
		fmt.Fprintf(&b, "\nAPI load with nothing changing (audit log, %.0f s, three daemons): **%.2f requests/s** (budget ≤ %.1f)\n\n",
			a.WindowS, a.PerSecond, steadyAPITarget)
		b.WriteString("| source | requests/s |\n|---|---:|\n")
		for _, k := range busiestKeys(a.ByRequest) {
			fmt.Fprintf(&b, "| %s | %.2f |\n", k, a.ByRequest[k])
		}
		for _, k := range busiestKeys(a.ByNode) {
			fmt.Fprintf(&b, "| node %s | %.2f |\n", k, a.ByNode[k])
		}
	}
	return b.String()
}

// machine describes where the benchmark ran.
func machine() map[string]any {
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	m := map[string]any{
		"nproc":  runtime.NumCPU(),
		"kernel": strings.TrimSpace(string(kernel)),
		"go":     runtime.Version(),
	}
	if out, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		m["vipkeeper"] = strings.TrimSpace(string(out))
	} else {
		m["vipkeeper"] = "unknown"
	}
	return m
}

// busiestKeys are m's keys, busiest first.
func busiestKeys(m map[string]float64) []string { return lab.APILoad{PerSecond: m}.Keys() }
