package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// TestStatusServices: the claims joined with the node Leases and the
// Services, in address order; a claim of a node whose Lease lapsed says
// so; the allocator role is not an address.
func TestStatusServices(t *testing.T) {
	now := statusNow
	micro := func(d time.Duration) *metav1.MicroTime { m := metav1.NewMicroTime(now.Add(-d)); return &m }
	str := func(s string) *string { return &s }
	dur := int32(15)
	node := func(name string, renewed time.Duration) *coordinationv1.Lease {
		return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "vipkeeper-node-" + name, Namespace: "vipkeeper-system",
			Labels: map[string]string{"vipkeeper.io/role": "node"}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: str(name), RenewTime: micro(renewed), LeaseDurationSeconds: &dur}}
	}
	claim := func(name, key, holder, pool string, since time.Duration) *coordinationv1.Lease {
		return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "vipkeeper-system",
			Labels:      map[string]string{"vipkeeper.io/role": "claim"},
			Annotations: map[string]string{"vipkeeper.io/claim-key": key, "vipkeeper.io/pool": pool}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: str(holder), AcquireTime: micro(since)}}
	}
	cs := fake.NewClientset()
	ctx := context.Background()
	for _, l := range []*coordinationv1.Lease{
		node("n1", time.Second), node("n2", time.Minute),
		claim("vipkeeper-claim-cb00718a", "203.0.113.138", "n2", "b", 3*time.Second),
		claim("vipkeeper-claim-cb007181", "203.0.113.129", "n1", "b", 90*time.Second),
		claim("vipkeeper-services-allocator", "allocator", "n1", "", time.Hour),
	} {
		if _, err := cs.CoordinationV1().Leases(l.Namespace).Create(ctx, l, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "web"},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "203.0.113.129"}}}}}
	if _, err := cs.CoreV1().Services("team-a").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	d := statusDeps{
		lookupEnv: func(string) (string, bool) { return "", false },
		hostname:  func() (string, error) { return "n1", nil },
		leases:    func(string) (coordinationv1client.LeasesGetter, error) { return cs.CoordinationV1(), nil },
		services:  func(string) (corev1client.ServicesGetter, error) { return cs.CoreV1(), nil },
		now:       func() time.Time { return now },
	}
	var out, errOut bytes.Buffer
	if code := runStatus(ctx, []string{"--services", "--services-namespace", "vipkeeper-system"}, &out, &errOut, d); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	want := `ADDRESS        NODE                      POOL  SINCE  SERVICES
203.0.113.129  n1                        b     1m30s  team-a/web
203.0.113.138  n2 (node Lease not live)  b     3s     -
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	out.Reset()
	if code := runStatus(ctx, []string{"--services", "--services-namespace", "vipkeeper-system", "-o", "json"}, &out, &errOut, d); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), `"address": "203.0.113.129"`) || !strings.Contains(out.String(), `"nodeLive": true`) {
		t.Errorf("json:\n%s", out.String())
	}
}
