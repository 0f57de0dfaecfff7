package nsguard_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/vipkeeper/vipkeeper/pkg/services"
	"github.com/vipkeeper/vipkeeper/pkg/services/nsguard"
)

func lease(ns, name, role string, holder *string) *coordinationv1.Lease {
	l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: coordinationv1.LeaseSpec{HolderIdentity: holder}}
	if role != "" {
		l.Labels = map[string]string{services.LabelRole: role}
	}
	return l
}

func TestBlocking(t *testing.T) {
	tests := []struct {
		name   string
		leases []*coordinationv1.Lease
		want   []string
	}{
		{"nothing", nil, nil},
		{"the control-plane Lease and the cluster's own", []*coordinationv1.Lease{
			lease("kube-system", "vipkeeper", "", ptr.To("n1")),
			lease("kube-system", "kube-scheduler", "", ptr.To("cp1")),
		}, nil},
		{"claims alone do not block: nothing binds them without a node Lease", []*coordinationv1.Lease{
			lease("kube-system", "vipkeeper-claim-c0000281", services.RoleClaim, ptr.To("n1")),
		}, nil},
		{"held node Leases block", []*coordinationv1.Lease{
			lease("kube-system", "vipkeeper-node-n2", services.RoleNode, ptr.To("n2")),
			lease("kube-system", "vipkeeper-node-n1", services.RoleNode, ptr.To("n1")),
		}, []string{"vipkeeper-node-n1", "vipkeeper-node-n2"}},
		{"a released node Lease blocks: its node may be alive and unhealthy", []*coordinationv1.Lease{
			lease("kube-system", "vipkeeper-node-n3", services.RoleNode, nil),
		}, []string{"vipkeeper-node-n3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var items []coordinationv1.Lease
			for _, l := range tt.leases {
				items = append(items, *l)
			}
			if diff := cmp.Diff(tt.want, nsguard.Blocking(items)); diff != "" {
				t.Errorf("Blocking (-want +got):\n%s", diff)
			}
		})
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestWait: the guard holds the start back while a node Lease is in the
// lease namespace or the API refuses the list, looks again every Retry
// with a quorum read, and lets the start go once they are deleted.
func TestWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := fake.NewClientset(
			lease("kube-system", "vipkeeper-node-n2", services.RoleNode, ptr.To("n2")),
			lease("kube-system", "vipkeeper", "", ptr.To("n1")),
			lease("vipkeeper-system", "vipkeeper-node-n9", services.RoleNode, ptr.To("n9")), // the new home: not looked at
		)
		var lists atomic.Int32
		var forbidden atomic.Bool
		cs.PrependReactor("list", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
			lists.Add(1)
			l := a.(k8stesting.ListAction)
			if got := l.GetListRestrictions().Labels.String(); got != services.LabelRole+"="+services.RoleNode || l.GetNamespace() != "kube-system" {
				t.Errorf("list in %q with selector %q", l.GetNamespace(), got)
			}
			if forbidden.Load() {
				return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, "", errors.New("no"))
			}
			return false, nil, nil
		})
		g := nsguard.New(nsguard.Config{Namespace: "kube-system", Serving: "vipkeeper-system", Retry: 10 * time.Second}, cs.CoordinationV1(), quiet)
		var started atomic.Bool
		done := make(chan error, 1)
		go func() {
			done <- g.Wrap(func(context.Context) error { started.Store(true); return nil })(t.Context())
		}()

		synctest.Wait()
		if started.Load() || lists.Load() != 1 {
			t.Fatalf("started %v after %d lists with a node Lease there", started.Load(), lists.Load())
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if started.Load() || lists.Load() != 2 {
			t.Fatalf("started %v after %d lists; want a second look after Retry", started.Load(), lists.Load())
		}

		// The operator deletes the Lease, but the API refuses the list:
		// still blocked.
		forbidden.Store(true)
		if err := cs.CoordinationV1().Leases("kube-system").Delete(t.Context(), "vipkeeper-node-n2", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if started.Load() {
			t.Fatal("started while the list was refused")
		}
		forbidden.Store(false)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if !started.Load() || lists.Load() != 4 {
			t.Fatalf("started %v after %d lists; want a start on the fourth", started.Load(), lists.Load())
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// TestWaitStops: a daemon that stops while blocked returns at once and
// never starts the controller.
func TestWaitStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := fake.NewClientset(lease("kube-system", "vipkeeper-node-n2", services.RoleNode, nil))
		g := nsguard.New(nsguard.Config{Namespace: "kube-system", Serving: "vipkeeper-system"}, cs.CoordinationV1(), quiet)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			done <- g.Wrap(func(context.Context) error { t.Error("started"); return nil })(ctx)
		}()
		time.Sleep(time.Minute)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
