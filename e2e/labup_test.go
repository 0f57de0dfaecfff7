package e2e

import (
	"context"
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
	l := lab.Start(t, lab.Options{})
	for _, vip := range l.VIPs() {
		owner := l.WaitOwner(vip, 20*time.Second)
		who := l.WaitServed(vip, 20*time.Second)
		if who != owner {
			t.Errorf("VIP %s: held by %s but served by %s", vip, owner, who)
		}
		t.Logf("VIP %s: held and served by %s", vip, owner)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
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
}
