package e2e

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/vipkeeper/vipkeeper/e2e/lab"
)

// The services scale benchmark (`make bench-scale`, docs/bench-scale.md):
// N LoadBalancer Services on three nodes, measuring how long until every
// address is bound once, what vipkeeper then costs the API server when
// nothing changes, how much memory each daemon holds, and how fast the
// addresses of a crashed node come back. TestScale (N = 1,000 by default)
// runs only when asked:
//
//	cd e2e && VIPKEEPER_SCALE=1 go test -count=1 -v -timeout 60m -run '^TestScale$' .
//
// TestScaleSmall runs the same with 100 Services in the normal suite.
const (
	envScale         = "VIPKEEPER_SCALE"          // "1" runs TestScale
	envScaleServices = "VIPKEEPER_SCALE_SERVICES" // N for TestScale; default 1000
	envScaleOut      = "VIPKEEPER_SCALE_OUT"      // directory for scale*.json and .md; default .artifacts
	// envScalePoolObjects "1" runs the daemons with
	// --services-pool-objects, the pool an AddressPool object: the same
	// figures with the pools watched.
	envScalePoolObjects = "VIPKEEPER_SCALE_POOL_OBJECTS"
)

// The targets (docs/bench-scale.md). Each is asserted; every figure is
// also written to the report, target met or not.
const (
	scaleConvergeTarget = 30 * time.Second // first create → all N bound once
	scaleAPITarget      = 1.2              // each daemon's requests/s with nothing changing (its node-Lease renewals and almost nothing else)
	scaleRSSTarget      = 60 << 20         // VmRSS of each daemon, bytes
	// scaleRecoveryTarget bounds the median time from the crash to an
	// address of the crashed node bound on a survivor.
	scaleRecoveryTarget = leaseDuration + 2*time.Second
)

const (
	// scaleHTTPSample is how many addresses the client fetches from. Not
	// all N: each one costs a neighbour entry in the client's namespace,
	// and 1,000 would overflow its table (gc_thresh3 is 1,024 by default)
	// and measure the kernel's garbage collector instead.
	scaleHTTPSample = 20
	// scaleCreateWorkers and the client rate make the admin client create
	// Services about as fast as the API server takes them on two cores.
	scaleCreateWorkers = 8
	scaleCreateQPS     = 200
	scaleCreateBurst   = 400
	// scaleSampleEvery is how often the benchmark reads who holds the
	// addresses: three netlink dumps of ~N/3 addresses each. Slower than
	// the scenarios' 25 ms to leave the two cores to the daemons.
	scaleSampleEvery = 50 * time.Millisecond
	// scaleSettle is the pause between the statuses being complete and
	// the quiet window, for writes in flight to land.
	scaleSettle = 5 * time.Second
	// scaleMaxServices is the IPv6 pool's size.
	scaleMaxServices = 1024
)

// scaleConfig is one benchmark's size.
type scaleConfig struct {
	name     string        // report file name: <name>.json, <name>.md
	services int           // N
	quiet    time.Duration // the API-load window
}

func TestScale(t *testing.T) {
	if os.Getenv(envScale) != "1" {
		t.Skipf("the services scale benchmark runs only with %s=1 (make bench-scale); TestScaleSmall runs it with 100 Services", envScale)
	}
	n := 1000
	if v := os.Getenv(envScaleServices); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > scaleMaxServices {
			t.Fatalf("%s=%q: want a number of Services, 1..%d (the IPv6 pool's size)", envScaleServices, v, scaleMaxServices)
		}
	}
	runScale(t, scaleConfig{name: "scale", services: n, quiet: 60 * time.Second})
}

func TestScaleSmall(t *testing.T) {
	runScale(t, scaleConfig{name: "scale-small", services: 100, quiet: 30 * time.Second})
}

// scaleReport is what <name>.json holds; the figures are in
// milliseconds, requests per second and MiB.
type scaleReport struct {
	Date     string         `json:"date"`
	Machine  map[string]any `json:"machine"`
	Settings struct {
		Services      int      `json:"services"`
		Nodes         int      `json:"nodes"`
		Family        string   `json:"family"`
		Pools         []string `json:"pools"`
		LeaseDuration string   `json:"lease_duration"`
		RenewDeadline string   `json:"renew_deadline"`
		RetryPeriod   string   `json:"retry_period"`
		QuietWindow   string   `json:"quiet_window"`
		CreateWorkers int      `json:"create_workers"`
		CreateQPS     int      `json:"create_qps"`
		SampleEvery   string   `json:"owner_sample_every"`
	} `json:"settings"`
	Targets map[string]string `json:"targets"`

	Create struct {
		DurationMS float64 `json:"duration_ms"` // first create sent → last create answered
		PerSecond  float64 `json:"per_second"`
		Retries    int     `json:"retries"`
		Failed     int     `json:"failed"`
	} `json:"create"`
	Converge struct {
		FirstBoundMS   float64        `json:"first_bound_ms"` // first create → first address bound
		AllBoundMS     float64        `json:"all_bound_ms"`   // first create → every address bound on one node
		StatusesMS     float64        `json:"statuses_ms"`    // first create → a List showed every ingress (polled after all_bound)
		Samples        int            `json:"samples"`
		OverlapSamples int            `json:"overlap_samples"` // samples with an address on two nodes
		PerNode        map[string]int `json:"per_node"`
		Claims         int            `json:"claims"`
	} `json:"converge"`
	HTTP struct {
		Sampled  int      `json:"sampled"`
		Served   int      `json:"served"` // answered by the node that holds the address
		Failures []string `json:"failures,omitempty"`
	} `json:"http"`
	// CreateAPI is what creating the N Services cost, first create →
	// every status written: the test's own creates are in the
	// all-clients figures, not in vipkeeper's.
	CreateAPI phaseAPI `json:"create_api"`
	API       struct {
		WindowS            float64            `json:"window_s"`
		VipkeeperPerSecond float64            `json:"vipkeeper_per_second"`   // the audit log: the daemons only, every request
		ByRequest          map[string]float64 `json:"vipkeeper_by_request"`   // the audit log, by verb and resource or path
		ByNode             map[string]float64 `json:"vipkeeper_by_node"`      // the audit log, by node: each held against the target
		AllPerSecond       float64            `json:"all_clients_per_second"` // apiserver_request_total: daemons + API server loopback
		PerSecond          map[string]float64 `json:"per_second_by_verb_resource"`
	} `json:"api"`
	CPUPercent  map[string]float64 `json:"cpu_percent"`    // CPU time / quiet window, per daemon
	RSSMiB      map[string]float64 `json:"rss_mib"`        // VmRSS, the target's figure
	AnonMiB     map[string]float64 `json:"rss_anon_mib"`   // RssAnon: what the daemon allocated
	FileMiB     map[string]float64 `json:"rss_file_mib"`   // RssFile: mostly the binary's own pages
	PeakMiB     map[string]float64 `json:"peak_rss_mib"`   // VmHWM: the largest VmRSS over the run so far
	HeapMiB     map[string]float64 `json:"heap_inuse_mib"` // go_memstats_heap_inuse_bytes from the daemon's /metrics, if it exports it
	MaxTookMS   map[string]float64 `json:"max_took_ms"`    // the largest took_ms each daemon logged (one binder apply)
	Crash       scaleCrash         `json:"crash"`
	Passed      bool               `json:"passed"`
	Failures    []string           `json:"failures,omitempty"`
	Unfinished  string             `json:"unfinished,omitempty"` // the phase the run stopped in, if it stopped early
	Description string             `json:"description"`
}

// phaseAPI is the API requests of one phase, counted (not per second).
type phaseAPI struct {
	Seconds    float64            `json:"seconds"`
	Vipkeeper  float64            `json:"vipkeeper_requests"`
	AllClients map[string]float64 `json:"all_clients_by_verb_resource"`
}

// apiDelta turns two scrapes into a phaseAPI.
func apiDelta(before, after lab.APICounts) phaseAPI {
	load := after.Since(before)
	secs := load.Window.Seconds()
	p := phaseAPI{Seconds: secs, Vipkeeper: load.NodesPerSecond * secs, AllClients: map[string]float64{}}
	for k, v := range load.PerSecond {
		p.AllClients[k] = math.Round(v * secs)
	}
	p.Vipkeeper = math.Round(p.Vipkeeper)
	return p
}

func (p phaseAPI) String() string {
	var parts []string
	for _, k := range (lab.APILoad{PerSecond: p.AllClients}).Keys() {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, p.AllClients[k]))
	}
	return fmt.Sprintf("vipkeeper %.0f requests in %.1f s; all clients: %s", p.Vipkeeper, p.Seconds, strings.Join(parts, ", "))
}

// scrapeAPI scrapes the API server's counters or fails the test.
func (r *scaleRun) scrapeAPI() lab.APICounts {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := r.l.APIRequests(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

type scaleCrash struct {
	API        phaseAPI `json:"api"` // the kill → every address back + settle
	Victim     string   `json:"victim"`
	Addresses  int      `json:"addresses"`
	Recovered  int      `json:"recovered"`
	FirstMS    float64  `json:"first_ms"`
	MedianMS   float64  `json:"median_ms"`
	P90MS      float64  `json:"p90_ms"`
	MaxMS      float64  `json:"max_ms"`
	Samples    int      `json:"samples"`
	Overlaps   int      `json:"overlaps"` // (address, sample) pairs on two live nodes
	Moved      int      `json:"moved"`    // survivors' addresses that changed owner
	Violations []string `json:"violations,omitempty"`
}

// scaleRun carries one benchmark through its phases.
type scaleRun struct {
	t      *testing.T
	cfg    scaleConfig
	l      *lab.Lab
	fast   kubernetes.Interface
	report *scaleReport
	phase  string
}

// fail records a missed target or a broken invariant in the report and
// fails the test; the run goes on.
func (r *scaleRun) fail(format string, args ...any) {
	r.t.Helper()
	msg := fmt.Sprintf(format, args...)
	r.report.Failures = append(r.report.Failures, msg)
	r.t.Error(msg)
}

func runScale(t *testing.T, cfg scaleConfig) {
	if !lab.DaemonHasFlag(t, "--services") {
		t.Skip("vipkeeper run has no --services yet: `vipkeeper run --help` does not list it")
	}
	pool := "pool=scale6;addresses=" + lab.ServicePool6.String()
	r := &scaleRun{t: t, cfg: cfg, report: &scaleReport{Date: time.Now().UTC().Format(time.RFC3339), Machine: machine()}}
	rep := r.report
	rep.Description = "vipkeeper services mode at scale: docs/bench-scale.md"
	s := &rep.Settings
	s.Services, s.Nodes, s.Family, s.Pools = cfg.services, 3, "IPv6 single-stack", []string{pool}
	s.LeaseDuration, s.RenewDeadline, s.RetryPeriod = "5s", "3s", "1s"
	s.QuietWindow, s.CreateWorkers, s.CreateQPS, s.SampleEvery = cfg.quiet.String(), scaleCreateWorkers, scaleCreateQPS, scaleSampleEvery.String()
	rep.Targets = map[string]string{
		"all_bound":             "≤ " + scaleConvergeTarget.String(),
		"vipkeeper_api_rate":    fmt.Sprintf("≤ %.1f req/s per node", scaleAPITarget),
		"rss":                   fmt.Sprintf("≤ %d MiB per daemon", scaleRSSTarget>>20),
		"crash_recovery_median": "≤ " + scaleRecoveryTarget.String() + " (lease duration + 2 s)",
	}
	defer r.write()

	r.phase = "start"
	objects := os.Getenv(envScalePoolObjects) == "1"
	r.l = lab.Start(t, lab.Options{Services: true, NoControlPlaneVIP: true, ServicePools: []string{pool}, Audit: true, PoolObjects: objects})
	if objects {
		s.Pools = []string{"AddressPool scale6: " + lab.ServicePool6.String()}
		if err := r.l.CreatePool(lab.Pool{Name: "scale6", Addresses: []string{lab.ServicePool6.String()}}); err != nil {
			t.Fatal(err)
		}
	}
	r.fast = r.l.AdminClient(scaleCreateQPS, scaleCreateBurst)
	r.waitReady()

	r.phase = "create"
	addrs, owners := r.createAndConverge()

	r.phase = "http"
	r.sampleHTTP(addrs, owners)

	r.phase = "api"
	time.Sleep(scaleSettle)
	r.measureAPI()

	r.phase = "rss"
	r.measureRSS()

	r.phase = "crash"
	r.crash(addrs, owners)
	r.phase = ""
}

// waitReady waits for every node Lease and the allocator claim, so that
// the clock starts with daemons ready to work, not starting.
func (r *scaleRun) waitReady() {
	r.t.Helper()
	want := []string{}
	for i := range r.l.Nodes() {
		want = append(want, lab.NodeLeasePrefix+r.l.NodeName(i))
	}
	var nodes, claims map[string]string
	var err error
	if !lab.WaitFor(60*time.Second, func() bool {
		if nodes, err = r.l.Leases(lab.RoleNode); err != nil {
			return false
		}
		if claims, err = r.l.Leases(lab.RoleClaim); err != nil {
			return false
		}
		for _, n := range want {
			if nodes[n] == "" {
				return false
			}
		}
		return claims[lab.AllocatorLease] != ""
	}) {
		r.t.Fatalf("the daemons are not ready after 60s: node Leases %v, claims %v (%v); want %v held and %s", nodes, claims, err, want, lab.AllocatorLease)
	}
	r.t.Logf("daemons ready: node Leases %v, allocator %s", nodes, claims[lab.AllocatorLease])
}

// createAndConverge creates the N Services from scaleCreateWorkers
// goroutines while the test's goroutine samples the nodes' addresses, and
// returns the addresses and their owners once each is bound on exactly
// one node.
func (r *scaleRun) createAndConverge() ([]netip.Addr, map[netip.Addr]string) {
	t, l, rep := r.t, r.l, r.report
	n := r.cfg.services
	jobs := make(chan int, n)
	for k := range n {
		jobs <- k
	}
	close(jobs)
	var mu sync.Mutex // guards failed, retries, lastDone
	var failed []string
	var retries int
	var lastDone time.Time
	var wg sync.WaitGroup
	apiBefore := r.scrapeAPI()
	began := time.Now()
	for range scaleCreateWorkers {
		wg.Go(func() {
			for k := range jobs {
				svc := lab.NewService(lab.ServiceSpec{Name: fmt.Sprintf("scale-%04d", k), IPv6: true})
				var err error
				for attempt := range 3 { // a timeout under load is retried; AlreadyExists then means it landed
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					_, err = r.fast.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{})
					cancel()
					if err == nil || attempt > 0 && apierrors.IsAlreadyExists(err) {
						err = nil
						break
					}
					mu.Lock()
					retries++
					mu.Unlock()
				}
				mu.Lock()
				if err != nil {
					failed = append(failed, fmt.Sprintf("%s: %v", svc.Name, err))
				}
				lastDone = time.Now()
				mu.Unlock()
			}
		})
	}

	// Sample until every address is bound once, bounded well past the
	// target so that a slow run still yields its figure.
	timeout := scaleConvergeTarget + 90*time.Second
	var owned map[netip.Addr][]string
	var firstBound, allBound time.Time
	var errs int
	for deadline := began.Add(timeout); time.Now().Before(deadline); time.Sleep(scaleSampleEvery) {
		var err error
		owned, err = l.OwnersIn(lab.ServicePool6)
		now := time.Now()
		if err != nil {
			if errs++; errs > 10 {
				t.Fatalf("owners: %v", err)
			}
			continue
		}
		rep.Converge.Samples++
		once := 0
		overlap := false
		for _, o := range owned {
			switch len(o) {
			case 1:
				once++
			default:
				overlap = true
			}
		}
		if overlap {
			rep.Converge.OverlapSamples++
		}
		if firstBound.IsZero() && len(owned) > 0 {
			firstBound = now
		}
		if once == n && len(owned) == n {
			allBound = now
			break
		}
	}
	wg.Wait()
	rep.Create.DurationMS = ms(lastDone.Sub(began))
	rep.Create.PerSecond = float64(n) / lastDone.Sub(began).Seconds()
	rep.Create.Retries, rep.Create.Failed = retries, len(failed)
	t.Logf("created %d Services in %v (%.0f/s, %d retries, %d failed)", n, lastDone.Sub(began).Round(time.Millisecond),
		rep.Create.PerSecond, retries, len(failed))
	if len(failed) > 0 {
		t.Fatalf("%d Services could not be created, e.g. %s", len(failed), failed[0])
	}
	if !firstBound.IsZero() {
		rep.Converge.FirstBoundMS = ms(firstBound.Sub(began))
	}
	if rep.Converge.OverlapSamples > 0 {
		r.fail("%d samples showed an address on two nodes while the Services were being created; want none", rep.Converge.OverlapSamples)
	}
	if allBound.IsZero() {
		r.fail("after %v, %d addresses of the pool are bound (want %d, each on one node)", timeout, len(owned), n)
		t.FailNow()
	}
	took := allBound.Sub(began)
	rep.Converge.AllBoundMS = ms(took)
	t.Logf("all %d addresses bound on exactly one node %v after the first create (first bound after %v)",
		n, took.Round(time.Millisecond), firstBound.Sub(began).Round(time.Millisecond))
	if took > scaleConvergeTarget {
		r.fail("all %d addresses bound after %v; target ≤ %v", n, took.Round(time.Millisecond), scaleConvergeTarget)
	}

	owners := make(map[netip.Addr]string, n)
	rep.Converge.PerNode = map[string]int{}
	for a, o := range owned {
		owners[a] = o[0]
		rep.Converge.PerNode[o[0]]++
	}
	addrs := slices.SortedFunc(maps.Keys(owners), netip.Addr.Compare)
	r.checkStatuses(began, owners)
	rep.CreateAPI = apiDelta(apiBefore, r.scrapeAPI())
	t.Logf("creating %d Services cost: %s", n, rep.CreateAPI)
	return addrs, owners
}

// checkStatuses waits for a List of the Services that shows every one
// with one ingress address, ipMode VIP, all distinct and all bound; and
// counts the claim Leases.
func (r *scaleRun) checkStatuses(began time.Time, owners map[netip.Addr]string) {
	t, rep := r.t, r.report
	var bad []string
	var complete bool
	for deadline := time.Now().Add(60 * time.Second); !complete && time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		list, err := r.fast.CoreV1().Services(lab.ServiceNamespace).List(ctx, metav1.ListOptions{})
		cancel()
		if err != nil {
			bad = []string{err.Error()}
			continue
		}
		bad = bad[:0]
		seen := map[netip.Addr]string{}
		count := 0
		for _, svc := range list.Items {
			if !strings.HasPrefix(svc.Name, "scale-") {
				continue
			}
			count++
			in := svc.Status.LoadBalancer.Ingress
			got := lab.IngressAddrs(&svc)
			switch {
			case len(in) != 1 || len(got) != 1:
				bad = append(bad, fmt.Sprintf("%s: ingress %+v", svc.Name, in))
			case in[0].IPMode == nil || *in[0].IPMode != "VIP":
				bad = append(bad, fmt.Sprintf("%s: ipMode %v", svc.Name, in[0].IPMode))
			case seen[got[0]] != "":
				bad = append(bad, fmt.Sprintf("%s and %s both have %s", seen[got[0]], svc.Name, got[0]))
			case owners[got[0]] == "":
				bad = append(bad, fmt.Sprintf("%s: %s is bound nowhere", svc.Name, got[0]))
			default:
				seen[got[0]] = svc.Name
			}
		}
		if count != r.cfg.services {
			bad = append(bad, fmt.Sprintf("listed %d scale Services; want %d", count, r.cfg.services))
		}
		complete = len(bad) == 0
	}
	if !complete {
		r.fail("the Services' statuses do not match the bound addresses after 60s: %d problems, e.g. %v", len(bad), bad[:min(5, len(bad))])
		return
	}
	rep.Converge.StatusesMS = ms(time.Since(began))
	claims, err := r.l.Leases(lab.RoleClaim)
	if err != nil {
		t.Fatal(err)
	}
	for name := range claims {
		if strings.HasPrefix(name, lab.ClaimLeasePrefix) {
			rep.Converge.Claims++
		}
	}
	t.Logf("every status lists its bound address (by %v after the first create); %d claim Leases; per node %v",
		time.Duration(rep.Converge.StatusesMS*float64(time.Millisecond)).Round(time.Millisecond), rep.Converge.Claims, rep.Converge.PerNode)
	if rep.Converge.Claims != r.cfg.services {
		r.fail("%d claim Leases for %d addresses; want one each", rep.Converge.Claims, r.cfg.services)
	}
}

// sampleHTTP fetches from scaleHTTPSample addresses spread over the pool,
// from the client: each must be answered by the node holding it.
func (r *scaleRun) sampleHTTP(addrs []netip.Addr, owners map[netip.Addr]string) {
	h := &r.report.HTTP
	step := max(1, len(addrs)/scaleHTTPSample)
	for k := 0; k < len(addrs) && h.Sampled < scaleHTTPSample; k += step {
		a := addrs[k]
		h.Sampled++
		var who string
		var err error
		lab.WaitFor(5*time.Second, func() bool {
			who, err = r.l.ServedBy(a, time.Second)
			return err == nil
		})
		switch {
		case err != nil:
			h.Failures = append(h.Failures, fmt.Sprintf("%s: %v", a, err))
		case who != owners[a]:
			h.Failures = append(h.Failures, fmt.Sprintf("%s: bound on %s, served by %s", a, owners[a], who))
		default:
			h.Served++
		}
	}
	r.t.Logf("client HTTP: %d of %d sampled addresses answered by their holder", h.Served, h.Sampled)
	if len(h.Failures) > 0 {
		r.fail("client HTTP: %d of %d sampled addresses not served by their holder: %v", len(h.Failures), h.Sampled, h.Failures)
	}
}

// measureAPI scrapes the API server's counters twice, cfg.quiet apart, and
// does nothing else in between: no test request lands in the window.
func (r *scaleRun) measureAPI() {
	t, api := r.t, &r.report.API
	cpu0 := r.daemonCPU()
	before := r.scrapeAPI()
	start := time.Now()
	time.Sleep(r.cfg.quiet) // quiet: no API request from the test
	load := r.scrapeAPI().Since(before)
	window, cpu1 := time.Since(start), r.daemonCPU()
	r.report.CPUPercent = map[string]float64{}
	for name, used := range cpu1 {
		r.report.CPUPercent[name] = 100 * (used - cpu0[name]).Seconds() / window.Seconds()
	}
	t.Logf("daemon CPU over the quiet window (%% of one core): %v", roundAll(r.report.CPUPercent))
	api.WindowS = load.Window.Seconds()
	api.VipkeeperPerSecond, api.AllPerSecond, api.PerSecond = load.NodesPerSecond, load.TotalPerSecond, load.PerSecond
	api.ByRequest, api.ByNode = load.NodeRequests, load.ByNode
	t.Logf("API requests over %v with nothing changing: %s", load.Window.Round(time.Millisecond), load)
	if len(load.ByNode) == 0 {
		r.fail("the audit log counted no request of the daemons in %v", load.Window)
	}
	for node, rate := range load.ByNode {
		if rate > scaleAPITarget {
			r.fail("%s made %.2f API requests/s with nothing changing; target ≤ %.1f per node", node, rate, scaleAPITarget)
		}
	}
}

// daemonCPU is the CPU time each daemon has used so far, by node name.
func (r *scaleRun) daemonCPU() map[string]time.Duration {
	out := map[string]time.Duration{}
	for i := range r.l.Nodes() {
		if d, err := r.l.DaemonCPU(i); err == nil {
			out[r.l.NodeName(i)] = d
		} else {
			r.fail("CPU of %s: %v", r.l.NodeName(i), err)
		}
	}
	return out
}

// measureRSS reads each daemon's VmRSS and the largest took_ms it logged.
func (r *scaleRun) measureRSS() {
	rep := r.report
	rep.RSSMiB, rep.AnonMiB, rep.FileMiB, rep.PeakMiB = map[string]float64{}, map[string]float64{}, map[string]float64{}, map[string]float64{}
	rep.HeapMiB, rep.MaxTookMS = map[string]float64{}, map[string]float64{}
	const mib = 1 << 20
	for i := range r.l.Nodes() {
		name := r.l.NodeName(i)
		mem, err := r.l.DaemonMem(i)
		if err != nil {
			r.fail("memory of %s: %v", name, err)
			continue
		}
		rep.RSSMiB[name], rep.AnonMiB[name] = float64(mem.RSS)/mib, float64(mem.Anon)/mib
		rep.FileMiB[name], rep.PeakMiB[name] = float64(mem.File)/mib, float64(mem.PeakRSS)/mib
		if mem.RSS > scaleRSSTarget {
			r.fail("vipkeeper on %s holds %.2f MiB (VmRSS); target ≤ %d MiB", name, rep.RSSMiB[name], scaleRSSTarget>>20)
		}
		if code, body := scrape(r.t, r.l, i, "/metrics"); code == 200 {
			if v, ok := metric(body, "go_memstats_heap_inuse_bytes"); ok {
				rep.HeapMiB[name] = v / (1 << 20)
			}
		}
		if took, ok := maxTook(r.l, i); ok {
			rep.MaxTookMS[name] = took
		}
	}
	r.t.Logf("memory (MiB): VmRSS %v = RssAnon %v + RssFile %v; peak VmRSS %v; Go heap in use %v; largest took_ms logged: %v",
		roundAll(rep.RSSMiB), roundAll(rep.AnonMiB), roundAll(rep.FileMiB), roundAll(rep.PeakMiB), roundAll(rep.HeapMiB), rep.MaxTookMS)
}

var tookRE = regexp.MustCompile(`\btook_ms=([0-9.]+)`)

// maxTook is the largest took_ms= in node i's log.
func maxTook(l *lab.Lab, i int) (float64, bool) {
	text, _ := l.DaemonLog(i, 0)
	best, found := 0.0, false
	for _, m := range tookRE.FindAllStringSubmatch(text, -1) {
		if v, err := strconv.ParseFloat(m[1], 64); err == nil {
			best, found = max(best, v), true
		}
	}
	return best, found
}

func roundAll(m map[string]float64) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = fmt.Sprintf("%.1f", v)
	}
	return out
}

// crash SIGKILLs the node holding the most addresses and unplugs it, then
// times each of its addresses until a survivor binds it.
func (r *scaleRun) crash(addrs []netip.Addr, owners map[netip.Addr]string) {
	t, l, c := r.t, r.l, &r.report.Crash
	per := r.report.Converge.PerNode
	victim := slices.MaxFunc(slices.Sorted(maps.Keys(per)), func(a, b string) int { return per[a] - per[b] })
	vi := l.NodeIndex(victim)
	c.Victim, c.Addresses = victim, per[victim]
	pids := l.PIDs()
	t.Logf("crash: SIGKILL %s (%d addresses) and unplug it", victim, per[victim])
	apiBefore := r.scrapeAPI()
	fault := time.Now()
	l.KillNode(vi, syscall.SIGKILL)
	l.WaitNodeExit(vi, 5*time.Second)
	l.LinkDown(vi)
	timeout := leaseDuration + 30*time.Second + time.Duration(len(addrs))*20*time.Millisecond
	tr := traceCrash(t, l, addrs, owners, victim, fault, timeout, scaleSampleEvery)
	c.API = apiDelta(apiBefore, r.scrapeAPI())
	t.Logf("the crash cost: %s", c.API)
	d := tr.durations()
	c.Recovered, c.Samples, c.Overlaps, c.Moved = len(d), tr.samples, tr.nOverlap, tr.nMoved
	c.Violations = append(tr.overlaps, tr.moved...)
	if len(d) > 0 {
		c.FirstMS, c.MedianMS, c.MaxMS = ms(d[0]), ms(medianDuration(d)), ms(d[len(d)-1])
		c.P90MS = ms(d[min(len(d)-1, len(d)*9/10)])
	}
	t.Logf("crash recovery: %s", tr.summary())
	if c.Recovered < c.Addresses {
		r.fail("%d of %s's %d addresses not bound on a survivor within %v", c.Addresses-c.Recovered, victim, c.Addresses, timeout)
	}
	if med := medianDuration(d); len(d) > 0 && med > scaleRecoveryTarget {
		r.fail("crash recovery median %v; target ≤ %v", med.Round(time.Millisecond), scaleRecoveryTarget)
	}
	if tr.nOverlap > 0 {
		r.fail("%d (address, sample) pairs with an address on two live nodes after the crash; want none: %v", tr.nOverlap, tr.overlaps)
	}
	if tr.nMoved > 0 {
		r.fail("%d of the survivors' addresses changed owner after the crash; want none (sticky): %v", tr.nMoved, tr.moved)
	}
	for i, pid := range pids {
		if i != vi && (l.NodePID(i) != pid || !l.NodeAlive(i)) {
			r.fail("daemon of %s: pid %d before the crash, now %d alive=%v; want the same daemon", l.NodeName(i), pid, l.NodePID(i), l.NodeAlive(i))
		}
	}
}

// write writes <name>.json and <name>.md and logs the table. It runs
// deferred, so a run that stops early still leaves what it measured.
func (r *scaleRun) write() {
	rep := r.report
	rep.Unfinished = r.phase
	rep.Passed = !r.t.Failed() && r.phase == ""
	table := scaleTable(rep)
	r.t.Log("\n" + table)
	dir := cmp.Or(os.Getenv(envScaleOut), ".artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.t.Error(err)
		return
	}
	b, _ := json.MarshalIndent(rep, "", "  ")
	for file, data := range map[string][]byte{r.cfg.name + ".json": append(b, '\n'), r.cfg.name + ".md": []byte(table)} {
		if err := os.WriteFile(filepath.Join(dir, file), data, 0o644); err != nil {
			r.t.Error(err)
		}
	}
	r.t.Logf("wrote %s", filepath.Join(dir, r.cfg.name+".{json,md}"))
}

// scaleTable renders a report as Markdown.
func scaleTable(r *scaleReport) string {
	var b strings.Builder
	s := r.Settings
	fmt.Fprintf(&b, "Services scale benchmark, %s — %v CPUs, kernel %v, %v, vipkeeper %v\n", r.Date,
		r.Machine["nproc"], r.Machine["kernel"], r.Machine["go"], r.Machine["vipkeeper"])
	fmt.Fprintf(&b, "%d Services (%s) on %d nodes; pool %s; lease %s/%s/%s; quiet window %s; owners sampled every %s.\n\n",
		s.Services, s.Family, s.Nodes, strings.Join(s.Pools, " "), s.LeaseDuration, s.RenewDeadline, s.RetryPeriod, s.QuietWindow, s.SampleEvery)
	if r.Unfinished != "" {
		fmt.Fprintf(&b, "**The run stopped in phase %q; figures after it are missing.**\n\n", r.Unfinished)
	}
	row := func(what, got, target string, ok bool) {
		verdict := ""
		if target != "" {
			verdict = map[bool]string{true: "met", false: "**missed**"}[ok]
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", what, got, target, verdict)
	}
	b.WriteString("| figure | measured | target | |\n|---|---:|---:|---|\n")
	row("create N Services (client)", fmt.Sprintf("%.1f s (%.0f/s)", r.Create.DurationMS/1000, r.Create.PerSecond), "", true)
	row("first address bound", fmt.Sprintf("%.1f s", r.Converge.FirstBoundMS/1000), "", true)
	row("all addresses bound, each on one node", fmt.Sprintf("%.1f s", r.Converge.AllBoundMS/1000), r.Targets["all_bound"],
		r.Converge.AllBoundMS > 0 && r.Converge.AllBoundMS <= ms(scaleConvergeTarget))
	row("every status written (polled after)", fmt.Sprintf("≤ %.1f s", r.Converge.StatusesMS/1000), "", true)
	row("vipkeeper requests to create them (statuses, claims)", fmt.Sprintf("%.0f", r.CreateAPI.Vipkeeper), "", true)
	row("addresses per node", fmt.Sprint(r.Converge.PerNode), "", true)
	row("samples with an address on two nodes", fmt.Sprint(r.Converge.OverlapSamples), "0", r.Converge.OverlapSamples == 0)
	row("client HTTP sample served by the holder", fmt.Sprintf("%d/%d", r.HTTP.Served, r.HTTP.Sampled), "all", r.HTTP.Served == r.HTTP.Sampled)
	var busiest float64
	for _, v := range r.API.ByNode {
		busiest = max(busiest, v)
	}
	row("vipkeeper API requests, nothing changing, busiest node", fmt.Sprintf("%.2f req/s (all: %.2f)", busiest, r.API.VipkeeperPerSecond),
		r.Targets["vipkeeper_api_rate"], r.API.WindowS > 0 && len(r.API.ByNode) > 0 && busiest <= scaleAPITarget)
	row("daemon CPU, nothing changing (% of one core)", fmt.Sprint(roundAll(r.CPUPercent)), "", true)
	row("all clients (incl. API server loopback)", fmt.Sprintf("%.2f req/s", r.API.AllPerSecond), "", true)
	var maxRSS float64
	for _, v := range r.RSSMiB {
		maxRSS = max(maxRSS, v)
	}
	row("daemon VmRSS, largest", fmt.Sprintf("%.1f MiB %v", maxRSS, roundAll(r.RSSMiB)), r.Targets["rss"],
		len(r.RSSMiB) > 0 && maxRSS <= float64(scaleRSSTarget>>20))
	took := "not logged"
	if len(r.MaxTookMS) > 0 {
		took = fmt.Sprint(r.MaxTookMS)
	}
	row("… of which RssAnon / RssFile", fmt.Sprintf("%v / %v", roundAll(r.AnonMiB), roundAll(r.FileMiB)), "", true)
	row("peak VmRSS (VmHWM)", fmt.Sprint(roundAll(r.PeakMiB)), "", true)
	if len(r.HeapMiB) > 0 {
		row("daemon Go heap in use", fmt.Sprint(roundAll(r.HeapMiB)), "", true)
	}
	row("largest took_ms logged (one binder apply)", took, "", true)
	c := r.Crash
	row(fmt.Sprintf("crash of %s: addresses back on a survivor", c.Victim), fmt.Sprintf("%d/%d", c.Recovered, c.Addresses), "all",
		c.Addresses > 0 && c.Recovered == c.Addresses)
	row("crash recovery median", fmt.Sprintf("%.2f s", c.MedianMS/1000), r.Targets["crash_recovery_median"],
		c.Recovered > 0 && c.MedianMS <= ms(scaleRecoveryTarget))
	row("crash recovery first / p90 / max", fmt.Sprintf("%.2f / %.2f / %.2f s", c.FirstMS/1000, c.P90MS/1000, c.MaxMS/1000), "", true)
	row("vipkeeper requests for the crash (kill → all back + 2 s)", fmt.Sprintf("%.0f", c.API.Vipkeeper), "", true)
	row("after the crash: address on two live nodes / survivor address moved", fmt.Sprintf("%d / %d", c.Overlaps, c.Moved), "0 / 0",
		c.Overlaps == 0 && c.Moved == 0)
	if len(r.API.ByRequest) > 0 {
		b.WriteString("\nvipkeeper's API requests per second in the quiet window (audit log), by request and by node:\n\n| request | req/s |\n|---|---:|\n")
		for _, k := range (lab.APILoad{PerSecond: r.API.ByRequest}).Keys() {
			fmt.Fprintf(&b, "| %s | %.2f |\n", k, r.API.ByRequest[k])
		}
		for _, k := range (lab.APILoad{PerSecond: r.API.ByNode}).Keys() {
			fmt.Fprintf(&b, "| node %s | %.2f |\n", k, r.API.ByNode[k])
		}
	}
	if len(r.API.PerSecond) > 0 {
		b.WriteString("\nAPI requests per second in the quiet window, all clients, by verb and resource:\n\n| verb resource | req/s |\n|---|---:|\n")
		keys := lab.APILoad{PerSecond: r.API.PerSecond}.Keys()
		for _, k := range keys {
			fmt.Fprintf(&b, "| %s | %.2f |\n", k, r.API.PerSecond[k])
		}
	}
	if len(r.Failures) > 0 {
		b.WriteString("\nFailures:\n\n")
		for _, f := range r.Failures {
			fmt.Fprintf(&b, "- %s\n", f)
		}
	}
	return b.String()
}
