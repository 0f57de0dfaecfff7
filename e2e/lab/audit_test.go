package lab

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCountAudit(t *testing.T) {
	const log = `{"kind":"Event","level":"Metadata","auditID":"a1","stage":"ResponseComplete","requestURI":"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/vipkeeper-cp?timeout=1.5s","verb":"update","user":{"username":"vipkeeper:n1","groups":["vipkeeper-nodes"]},"objectRef":{"resource":"leases","namespace":"kube-system","name":"vipkeeper-cp","apiGroup":"coordination.k8s.io"},"requestReceivedTimestamp":"2026-12-03T10:00:01.000000Z"}
{"kind":"Event","level":"Metadata","auditID":"w1","stage":"ResponseStarted","requestURI":"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases?watch=true","verb":"watch","user":{"username":"vipkeeper:n2"},"objectRef":{"resource":"leases"},"requestReceivedTimestamp":"2026-12-03T10:00:02.000000Z"}
{"kind":"Event","level":"Metadata","auditID":"w1","stage":"ResponseComplete","requestURI":"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases?watch=true","verb":"watch","user":{"username":"vipkeeper:n2"},"objectRef":{"resource":"leases"},"requestReceivedTimestamp":"2026-12-03T10:00:02.000000Z"}
{"kind":"Event","level":"Metadata","auditID":"r1","stage":"ResponseComplete","requestURI":"/readyz?timeout=500ms","verb":"get","user":{"username":"vipkeeper:n3"},"requestReceivedTimestamp":"2026-12-03T10:00:03.000000Z"}
{"kind":"Event","level":"Metadata","auditID":"c1","stage":"ResponseComplete","requestURI":"/readyz","verb":"get","user":{"username":"vipkeeper:n3"},"userAgent":"vipkeeper/dev (n3) api-server-check","requestReceivedTimestamp":"2026-12-03T10:00:03.500000Z"}
{"kind":"Event","level":"Metadata","auditID":"s1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/services/a/status","verb":"patch","user":{"username":"vipkeeper:n1"},"objectRef":{"resource":"services","subresource":"status"},"requestReceivedTimestamp":"2026-12-03T10:00:04.000000Z"}
{"kind":"Event","level":"Metadata","auditID":"late","stage":"ResponseComplete","requestURI":"/readyz","verb":"get","user":{"username":"vipkeeper:n3"},"requestReceivedTimestamp":"2026-12-03T10:00:09.000000Z"}
not json
`
	at := time.Date(2026, 12, 3, 10, 0, 5, 0, time.UTC)
	byRequest, byNode, err := countAudit(strings.NewReader(log), at)
	if err != nil {
		t.Fatal(err)
	}
	wantRequests := map[string]float64{"update leases": 1, "watch leases": 1, "get /readyz": 1, "get /readyz (local check)": 1, "patch services/status": 1}
	if diff := cmp.Diff(wantRequests, byRequest); diff != "" {
		t.Errorf("by request (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]float64{"n1": 2, "n2": 1, "n3": 1}, byNode); diff != "" {
		t.Errorf("by node (-want +got):\n%s", diff)
	}
}

func FuzzCountAudit(f *testing.F) {
	f.Add(`{"auditID":"a","verb":"get","requestURI":"/readyz","user":{"username":"vipkeeper:n1"},"requestReceivedTimestamp":"2026-12-03T10:00:01Z"}`)
	f.Add(`{"auditID":"b","verb":"update","objectRef":{"resource":"leases"},"requestReceivedTimestamp":"2026-12-03T10:00:01Z"}` + "\n{")
	f.Fuzz(func(t *testing.T, log string) {
		byRequest, byNode, err := countAudit(strings.NewReader(log), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			return // a line longer than the scanner takes
		}
		var r, n float64
		for k, v := range byRequest {
			if !strings.HasSuffix(k, localCheckSuffix) { // counted apart, not by node
				r += v
			}
		}
		for _, v := range byNode {
			n += v
		}
		if r != n {
			t.Errorf("%v requests by request but %v by node", r, n)
		}
	})
}
