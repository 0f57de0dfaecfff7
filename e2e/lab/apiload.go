package lab

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// NodeFlowSchema is the API Priority and Fairness FlowSchema the lab puts
// every request of the node group (the daemons) in. It sends them to the
// priority level they would use anyway (global-default), so nothing about
// how they are served changes, but the API server then counts them apart
// from its own loopback traffic and the test's:
// apiserver_flowcontrol_dispatched_requests_total{flow_schema=NodeFlowSchema}
// is exactly vipkeeper's request count, which apiserver_request_total
// (labelled by verb and resource, not by user) cannot give.
const NodeFlowSchema = "vipkeeper-lab-nodes"

// addFlowSchema creates NodeFlowSchema. Its precedence (1000) puts it
// before the suggested global-default (9900) and after the mandatory and
// system schemas, none of which matches the node group.
func addFlowSchema(ctx context.Context, c kubernetes.Interface) error {
	all := []string{"*"}
	fs := &flowcontrolv1.FlowSchema{
		ObjectMeta: metav1.ObjectMeta{Name: NodeFlowSchema},
		Spec: flowcontrolv1.FlowSchemaSpec{
			PriorityLevelConfiguration: flowcontrolv1.PriorityLevelConfigurationReference{Name: "global-default"},
			MatchingPrecedence:         1000,
			DistinguisherMethod:        &flowcontrolv1.FlowDistinguisherMethod{Type: flowcontrolv1.FlowDistinguisherMethodByUserType},
			Rules: []flowcontrolv1.PolicyRulesWithSubjects{{
				Subjects: []flowcontrolv1.Subject{{Kind: flowcontrolv1.SubjectKindGroup, Group: &flowcontrolv1.GroupSubject{Name: NodeGroup}}},
				ResourceRules: []flowcontrolv1.ResourcePolicyRule{{
					Verbs: all, APIGroups: all, Resources: all, ClusterScope: true, Namespaces: []string{flowcontrolv1.NamespaceEvery},
				}},
				NonResourceRules: []flowcontrolv1.NonResourcePolicyRule{{Verbs: all, NonResourceURLs: all}},
			}},
		},
	}
	_, err := c.FlowcontrolV1().FlowSchemas().Create(ctx, fs, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create flowschema %s: %w", NodeFlowSchema, err)
	}
	return nil
}

// APICounts is one scrape of the API server's request counters.
type APICounts struct {
	At time.Time
	// Requests are apiserver_request_total summed over response codes and
	// API versions, by "VERB resource[/subresource]" (e.g. "PUT leases",
	// "PUT services/status", "WATCH services"), for resource requests of
	// every client: the daemons, the API server's own loopback controllers
	// and the test. Non-resource requests (/metrics, /readyz) are left out.
	Requests map[string]float64
	// Nodes is apiserver_flowcontrol_dispatched_requests_total of
	// NodeFlowSchema: every request of the daemons, and only theirs.
	Nodes float64
}

// APIRequests scrapes the API server's /metrics with the admin client.
// The scrape itself is a non-resource GET: it counts in neither field.
func (l *Lab) APIRequests(ctx context.Context) (APICounts, error) {
	body, err := l.admin.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return APICounts{}, fmt.Errorf("scrape kube-apiserver /metrics: %w", err)
	}
	return parseAPICounts(string(body), time.Now())
}

// parseAPICounts reads the two counters of APICounts from Prometheus text
// exposition.
func parseAPICounts(body string, at time.Time) (APICounts, error) {
	c := APICounts{At: at, Requests: map[string]float64{}}
	var sawRequests bool
	for line := range strings.Lines(body) {
		name, labels, value, ok := parseSample(strings.TrimSpace(line))
		if !ok {
			continue
		}
		switch name {
		case "apiserver_request_total":
			sawRequests = true
			if labels["resource"] == "" {
				continue
			}
			key := labels["verb"] + " " + labels["resource"]
			if sub := labels["subresource"]; sub != "" {
				key += "/" + sub
			}
			c.Requests[key] += value
		case "apiserver_flowcontrol_dispatched_requests_total":
			if labels["flow_schema"] == NodeFlowSchema {
				c.Nodes += value
			}
		}
	}
	if !sawRequests {
		return c, fmt.Errorf("no apiserver_request_total in the scrape")
	}
	return c, nil
}

// parseSample splits `name{k="v",…} value [timestamp]`. Comments and
// malformed lines give ok = false.
func parseSample(line string) (name string, labels map[string]string, value float64, ok bool) {
	if line == "" || line[0] == '#' {
		return "", nil, 0, false
	}
	rest := line
	labels = map[string]string{}
	if i := strings.IndexAny(line, "{ "); i < 0 {
		return "", nil, 0, false
	} else if name, rest = line[:i], line[i:]; rest[0] == '{' {
		rest = rest[1:]
		for {
			rest = strings.TrimLeft(rest, ", ")
			if strings.HasPrefix(rest, "}") {
				rest = rest[1:]
				break
			}
			eq := strings.Index(rest, `="`)
			if eq < 0 {
				return "", nil, 0, false
			}
			key := rest[:eq]
			val, tail, good := unquote(rest[eq+1:])
			if !good {
				return "", nil, 0, false
			}
			labels[key], rest = val, tail
		}
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return "", nil, 0, false
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	return name, labels, v, err == nil
}

// unquote reads a quoted label value with \\, \" and \n escapes from the
// start of s and returns it and what follows.
func unquote(s string) (val, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", false
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], true
		case '\\':
			if i+1 == len(s) {
				return "", "", false
			}
			i++
			if s[i] == 'n' {
				b.WriteByte('\n')
			} else {
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false
}

// APILoad is the request rate between two scrapes.
type APILoad struct {
	Window time.Duration
	// NodesPerSecond is the daemons' rate (NodeFlowSchema): the figure to
	// hold against a target.
	NodesPerSecond float64
	// PerSecond is every client's rate by "VERB resource" (see
	// APICounts.Requests); keys with no requests in the window are left out.
	PerSecond map[string]float64
	// TotalPerSecond is the sum of PerSecond.
	TotalPerSecond float64
}

// Since is the load from before to c.
func (c APICounts) Since(before APICounts) APILoad {
	w := c.At.Sub(before.At)
	load := APILoad{Window: w, PerSecond: map[string]float64{}}
	if w <= 0 {
		return load
	}
	secs := w.Seconds()
	load.NodesPerSecond = (c.Nodes - before.Nodes) / secs
	for k, v := range c.Requests {
		if d := v - before.Requests[k]; d > 0 {
			load.PerSecond[k] = d / secs
			load.TotalPerSecond += d / secs
		}
	}
	return load
}

// Keys are PerSecond's keys, busiest first.
func (a APILoad) Keys() []string {
	keys := slices.Sorted(maps.Keys(a.PerSecond))
	slices.SortStableFunc(keys, func(x, y string) int {
		switch {
		case a.PerSecond[x] > a.PerSecond[y]:
			return -1
		case a.PerSecond[x] < a.PerSecond[y]:
			return 1
		}
		return 0
	})
	return keys
}

// String is "daemons R req/s; all clients T req/s: VERB resource r, …",
// busiest first.
func (a APILoad) String() string {
	var parts []string
	for _, k := range a.Keys() {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, a.PerSecond[k]))
	}
	return fmt.Sprintf("daemons %.2f req/s; all clients %.2f req/s: %s", a.NodesPerSecond, a.TotalPerSecond, strings.Join(parts, ", "))
}
