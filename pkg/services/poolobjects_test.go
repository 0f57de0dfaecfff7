package services

import (
	"context"
	"testing"
	"testing/synctest"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/vipkeeper/vipkeeper/pkg/services/pools"
)

// poolObject is an AddressPool as the API server would serve it.
func poolObject(t *testing.T, name, iface string, addrs ...string) *unstructured.Unstructured {
	t.Helper()
	o := &pools.AddressPool{
		TypeMeta:   metav1.TypeMeta{APIVersion: pools.Group + "/" + pools.Version, Kind: pools.Kind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 1, CreationTimestamp: metav1.Now()},
		Spec:       pools.Spec{Addresses: addrs, Interface: iface},
	}
	u, err := pools.ToUnstructured(o)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: u}
}

// poolValid is the status of the Valid condition of pool name ("" if none).
func poolValid(t *testing.T, dyn *dynamicfake.FakeDynamicClient, name string) string {
	t.Helper()
	u, err := dyn.Resource(pools.GVR).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := pools.FromUnstructured(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Status.Conditions {
		if c.Type == pools.ConditionValid {
			return string(c.Status)
		}
	}
	return ""
}

// TestPoolObjectsEndToEnd: two controllers read their pools from
// AddressPool objects (a fake dynamic client): a Service gets an address
// of the pool, the allocator writes the pool's Valid condition, the
// address goes on the pool's interface; deleting the pool withdraws the
// address with a Warning and unbinds it everywhere.
func TestPoolObjectsEndToEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newClient()
		dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
			map[schema.GroupVersionResource]string{pools.GVR: pools.Kind + "List"},
			poolObject(t, "storage", "eth1", "203.0.113.0/28"))
		start := func(name string) *node {
			return startNodeDeps(t, c, name, func(cfg *Config) {
				cfg.DefaultClass, cfg.Pools, cfg.PoolObjects = true, nil, true
			}, func(d *Deps) { d.PoolWrites, d.PoolInformers = dyn, dyn })
		}
		nodes := []*node{start("n1"), start("n2")}
		for _, n := range nodes {
			n.ctrl.LinkState("eth1", true)
		}
		if _, err := c.CoreV1().Services("default").Create(context.Background(), lbService("web", withClass(nil)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		settle(soon)
		const a = "203.0.113.1"
		if got := ingressOf(t, c, "web"); len(got) != 1 || got[0] != a {
			t.Fatalf("web's ingress %v; want [%s] from the pool object", got, a)
		}
		var holder *node
		for _, n := range nodes {
			if bound(n, a) {
				if holder != nil {
					t.Fatalf("%s bound on %s and %s", a, holder.name, n.name)
				}
				holder = n
			}
		}
		if holder == nil {
			t.Fatalf("%s bound nowhere", a)
		}
		if r := holder.links.route(a); r != "eth1" {
			t.Errorf("route of %s on %s: %q; want eth1", a, holder.name, r)
		}
		if v := poolValid(t, dyn, "storage"); v != "True" {
			t.Errorf("pool storage: Valid %q; want True", v)
		}

		if err := dyn.Resource(pools.GVR).Delete(context.Background(), "storage", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		settle(expiry)
		for _, n := range nodes {
			if bound(n, a) {
				t.Errorf("%s still bound on %s after its pool was deleted", a, n.name)
			}
		}
		if !warned(c, "web", ReasonAddressWithdrawn) {
			t.Errorf("no Warning %s on web", ReasonAddressWithdrawn)
		}
		if got := ingressOf(t, c, "web"); len(got) != 0 {
			t.Errorf("web's ingress %v with no pool left; want none", got)
		}
		for _, n := range nodes {
			n.stop()
		}
	})
}
