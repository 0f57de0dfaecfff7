package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipkeeper/vipkeeper/e2e/lab"
)

// TestLabUp brings up three nodes and checks that exactly one holds the VIP
// and serves the client, and that a node's identity can do what the daemon
// needs and nothing more.
func TestLabUp(t *testing.T) {
	l := lab.Start(t, lab.Options{Audit: true})
	for _, vip := range l.VIPs() {
		owner := l.WaitOwner(vip, 20*time.Second)
		who := l.WaitServed(vip, 20*time.Second)
		if who != owner {
			t.Errorf("VIP %s: held by %s but served by %s", vip, owner, who)
		}
		t.Logf("VIP %s: held and served by %s", vip, owner)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	holder, err := l.LeaseHolder(ctx)
	if err != nil {
		t.Fatalf("lease: %v", err)
	}
	if owner := l.Owners(); len(owner) != 1 || owner[0] != holder {
		t.Errorf("lease held by %q, VIP by %v", holder, owner)
	}

	// The node identity may manage leases in the lease namespace only.
	c := l.NodeClient(0)
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "lab-rbac-check", Namespace: "kube-system"}}
	if _, err := c.CoordinationV1().Leases("kube-system").Create(ctx, lease, metav1.CreateOptions{}); err != nil {
		t.Errorf("node identity cannot create a lease: %v", err)
	}
	if _, err := c.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("node identity listing pods: got %v, want Forbidden", err)
	}
	if _, err := c.CoordinationV1().Leases("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("node identity listing leases in default: got %v, want Forbidden", err)
	}

	// The service range is dual-stack: an IPv6 single-stack Service gets
	// a ClusterIP (the scale test's Services are such).
	svc := l.CreateService(lab.ServiceSpec{Name: "labup-v6", Class: "example.com/none", IPv6: true})
	if len(svc.Spec.ClusterIPs) != 1 || !strings.HasPrefix(svc.Spec.ClusterIPs[0], "2001:db8:ffff::") {
		t.Errorf("IPv6 Service got ClusterIPs %v; want one in 2001:db8:ffff::/112", svc.Spec.ClusterIPs)
	}

	// The API-load instrument sees the daemons' requests (the leader's
	// renewals at least) and no more requests than the API server served.
	before, err := l.APIRequests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // three retry periods: three renewals
	after, err := l.APIRequests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	load := after.Since(before)
	t.Logf("API requests over %v: %s", load.Window.Round(time.Millisecond), load)
	if load.NodesPerSecond <= 0 || load.PerSecond["PUT leases"] <= 0 {
		t.Errorf("the API-load instrument saw no renewal in %v: daemons %.2f/s, %v", load.Window, load.NodesPerSecond, load.PerSecond)
	}
}
