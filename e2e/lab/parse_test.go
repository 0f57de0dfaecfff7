package lab

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseAPICounts(t *testing.T) {
	const body = `# HELP apiserver_request_total [STABLE] Counter of apiserver requests
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 10
apiserver_request_total{code="409",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 2
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="services",scope="resource",subresource="status",verb="PUT",version="v1"} 3
apiserver_request_total{code="200",component="",dry_run="",group="",resource="",scope="",subresource="/metrics",verb="GET",version=""} 7
apiserver_flowcontrol_dispatched_requests_total{flow_schema="vipkeeper-lab-nodes",priority_level="global-default"} 11
apiserver_flowcontrol_dispatched_requests_total{flow_schema="exempt",priority_level="exempt"} 99
weird_metric{a="x\"y,z",b="\\"} 1 1700000000000
`
	got, err := parseAPICounts(body, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	// The flow-control counters are not read: the daemons' count comes
	// from the audit log.
	want := APICounts{Requests: map[string]float64{"PUT leases": 12, "PUT services/status": 3}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseAPICounts (-want +got):\n%s", diff)
	}
	if _, err := parseAPICounts("# nothing\n", time.Time{}); err == nil {
		t.Error("a scrape without apiserver_request_total parsed without error")
	}
}

func TestParseSample(t *testing.T) {
	tests := []struct {
		line   string
		name   string
		labels map[string]string
		value  float64
		ok     bool
	}{
		{`up 1`, "up", map[string]string{}, 1, true},
		{`m{a="1",b="x\"y"} 2.5 123`, "m", map[string]string{"a": "1", "b": `x"y`}, 2.5, true},
		{`m{a="1",} 3`, "m", map[string]string{"a": "1"}, 3, true},
		{`# HELP m x`, "", nil, 0, false},
		{`m{a="1" 3`, "", nil, 0, false},
		{`m{a=1} 3`, "", nil, 0, false},
		{`m`, "", nil, 0, false},
		{`m{} x`, "", nil, 0, false},
	}
	for _, tt := range tests {
		name, labels, value, ok := parseSample(tt.line)
		if ok != tt.ok || ok && (name != tt.name || value != tt.value || !cmp.Equal(labels, tt.labels)) {
			t.Errorf("parseSample(%q) = %q %v %v %v; want %q %v %v %v", tt.line, name, labels, value, ok, tt.name, tt.labels, tt.value, tt.ok)
		}
	}
}

func FuzzParseSample(f *testing.F) {
	f.Add(`m{a="1",b="x\"y"} 2.5 123`)
	f.Add(`up 1`)
	f.Add(`m{a="\`)
	f.Fuzz(func(t *testing.T, line string) {
		parseSample(line) // must not panic
	})
}

func TestParseMem(t *testing.T) {
	const status = "Name:\tvipkeeper\nVmHWM:\t   70000 kB\nVmRSS:\t   62000 kB\nRssAnon:\t   30000 kB\nRssFile:\t   32000 kB\nRssShmem:\t       0 kB\n"
	got, err := parseMem(status)
	if err != nil {
		t.Fatal(err)
	}
	want := Mem{RSS: 62000 << 10, Anon: 30000 << 10, File: 32000 << 10, PeakRSS: 70000 << 10}
	if got != want {
		t.Errorf("parseMem = %+v; want %+v", got, want)
	}
	if _, err := parseMem("VmRSS:\t1 kB\n"); err == nil {
		t.Error("parseMem of a status without RssAnon: no error")
	}
}

func TestParseAudit(t *testing.T) {
	const log = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a","stage":"ResponseComplete","requestURI":"/apis/coordination.k8s.io/v1/namespaces/vipkeeper-system/leases/vipkeeper-node-n1","verb":"get","user":{"username":"vipkeeper:n1","groups":["vipkeeper-nodes","system:authenticated"]},"objectRef":{"resource":"leases","namespace":"vipkeeper-system","name":"vipkeeper-node-n1","apiGroup":"coordination.k8s.io","apiVersion":"v1"},"responseStatus":{"metadata":{},"status":"Failure","reason":"NotFound","code":404}}
{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","stage":"ResponseComplete","verb":"patch","user":{"username":"vipkeeper:n2"},"objectRef":{"resource":"services","namespace":"default","name":"web","apiVersion":"v1","subresource":"status"},"responseStatus":{"metadata":{},"code":200}}
{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","stage":"ResponseComplete","verb":"get","requestURI":"/readyz","user":{"username":"vipkeeper:n2"},"responseStatus":{"metadata":{},"code":200}}
{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"li`
	got, err := parseAudit(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	want := []AuditEvent{
		{ID: "a", User: "vipkeeper:n1", Verb: "get", APIGroup: "coordination.k8s.io", Resource: "leases", Namespace: "vipkeeper-system", Name: "vipkeeper-node-n1",
			Path: "/apis/coordination.k8s.io/v1/namespaces/vipkeeper-system/leases/vipkeeper-node-n1", Code: 404},
		{User: "vipkeeper:n2", Verb: "patch", Resource: "services/status", Namespace: "default", Name: "web", Code: 200},
		{User: "vipkeeper:n2", Verb: "get", Path: "/readyz", Code: 200},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseAudit (-want +got):\n%s", diff)
	}
}

func TestParseCPU(t *testing.T) {
	const stat = "4242 (vip keeper) S 1 4242 4242 0 -1 4194560 2100 0 0 0 123 45 0 0 20 0 9 0 777 1000 100 18446744073709551615"
	got, err := parseCPU(stat)
	if err != nil || got != 1680*time.Millisecond {
		t.Errorf("parseCPU = %v, %v; want 1.68s", got, err)
	}
	for _, bad := range []string{"", "1 (x) S 1", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 -1 2"} {
		if _, err := parseCPU(bad); err == nil {
			t.Errorf("parseCPU(%q): no error", bad)
		}
	}
}
