package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/vipkeeper/vipkeeper/e2e/lab"
)

// servicesFlags are the services-mode flags of the daemons of
// TestManifests, and of `vipkeeper manifest rbac` for them.
func servicesFlags() []string {
	args := []string{"--services", "--services-namespace", servicesNamespace}
	for _, p := range lab.DefaultServicePools {
		args = append(args, "--services-pool", p)
	}
	return args
}

// grant is one applied rule and where it applies ("" for cluster-wide).
type grant struct {
	namespace string
	rule      rbacv1.PolicyRule
}

// grantsOf returns the rules of a Role or ClusterRole.
func grantsOf(obj runtime.Object) []grant {
	var out []grant
	switch o := obj.(type) {
	case *rbacv1.Role:
		for _, r := range o.Rules {
			out = append(out, grant{o.Namespace, r})
		}
	case *rbacv1.ClusterRole:
		for _, r := range o.Rules {
			out = append(out, grant{"", r})
		}
	}
	return out
}

// checkServicesRBAC checks what `vipkeeper manifest rbac --services
// --services-namespace vipkeeper-system` generates for the daemons of
// TestManifests: the control-plane Role of rbac.yaml, ClusterRole
// lab.ServicesRules, Role lab.ServiceLeaseRules in the services namespace
// and Role lab.GuardRules in the lease namespace (so the services
// scenarios, which run with the lab's mirrors, prove the documented RBAC
// suffices), and the services Namespace. It applies what rbac.yaml did
// not, and asks the authorizer that the node group and the ServiceAccount
// may do what services mode does and nothing more. It returns the rules it
// applied.
func checkServicesRBAC(ctx context.Context, t *testing.T, l *lab.Lab) []grant {
	admin := l.Admin()
	vk, err := lab.VipkeeperBin()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"manifest", "rbac", "--interface", "eth0", "--lease-name", leaseName, "--lease-namespace", leaseNamespace}
	for _, v := range l.VIPs() {
		args = append(args, "--vip", v.String())
	}
	args = append(args, servicesFlags()...)
	out, err := exec.CommandContext(ctx, vk, args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("vipkeeper %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	objs := decodeAll(t, "manifest rbac --services", out)
	type key struct{ kind, namespace, name string }
	wantRules := map[key][]rbacv1.PolicyRule{
		{"Role", leaseNamespace, serviceAccount}:                    lab.NodeRules(leaseName),
		{"ClusterRole", "", "vipkeeper-services"}:                   lab.ServicesRules(),
		{"Role", servicesNamespace, "vipkeeper-services"}:           lab.ServiceLeaseRules(),
		{"Role", leaseNamespace, "vipkeeper-services-guard"}:        lab.GuardRules(),
		{"Namespace", "", servicesNamespace}:                        nil,
		{"ServiceAccount", leaseNamespace, serviceAccount}:          nil,
		{"RoleBinding", leaseNamespace, serviceAccount}:             nil,
		{"ClusterRoleBinding", "", "vipkeeper-services"}:            nil,
		{"RoleBinding", servicesNamespace, "vipkeeper-services"}:    nil,
		{"RoleBinding", leaseNamespace, "vipkeeper-services-guard"}: nil,
	}
	seen := map[key]bool{}
	var grants []grant
	for _, obj := range objs {
		m, err := metaOf(obj)
		if err != nil {
			t.Fatal(err)
		}
		k := key{obj.GetObjectKind().GroupVersionKind().Kind, m.GetNamespace(), m.GetName()}
		want, known := wantRules[k]
		if !known {
			t.Errorf("unexpected %s %s/%s", k.kind, k.namespace, k.name)
			continue
		}
		seen[k] = true
		var got []rbacv1.PolicyRule
		for _, g := range grantsOf(obj) {
			got = append(got, g.rule)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s %s/%s differs from the lab's rules (-lab +generated):\n%s", k.kind, k.namespace, k.name, diff)
		}
		// rbac.yaml, applied before, made the ServiceAccount and the
		// control-plane Role and binding.
		if k.name == serviceAccount && k.namespace == leaseNamespace {
			continue
		}
		if err := create(ctx, admin, obj, true); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Errorf("dry-run create %s %s/%s: %v", k.kind, k.namespace, k.name, err)
		}
		if err := create(ctx, admin, obj, false); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("create %s %s/%s: %v", k.kind, k.namespace, k.name, err)
		}
		grants = append(grants, grantsOf(obj)...)
	}
	for k := range wantRules {
		if !seen[k] {
			t.Errorf("`vipkeeper %s` did not generate %s %s/%s", strings.Join(args, " "), k.kind, k.namespace, k.name)
		}
	}

	subjects := []struct {
		user   string
		groups []string
	}{
		{"vipkeeper:n1", []string{nodeGroup, "system:authenticated"}},
		{"system:serviceaccount:" + leaseNamespace + ":" + serviceAccount,
			[]string{"system:serviceaccounts", "system:serviceaccounts:" + leaseNamespace, "system:authenticated"}},
	}
	tests := []struct {
		verb, group, resource, subresource, namespace, name string
		want                                                bool
	}{
		{"list", "", "services", "", "", "", true},
		{"watch", "", "services", "", "", "", true},
		{"patch", "", "services", "status", "team-a", "web", true},
		{"list", "discovery.k8s.io", "endpointslices", "", "", "", true},
		{"watch", "discovery.k8s.io", "endpointslices", "", "", "", true},
		{"create", "", "events", "", "team-a", "", true},
		{"patch", "", "events", "", "team-a", "x", true},
		{"get", "coordination.k8s.io", "leases", "", servicesNamespace, "vipkeeper-node-n2", true},
		{"list", "coordination.k8s.io", "leases", "", servicesNamespace, "", true},
		{"watch", "coordination.k8s.io", "leases", "", servicesNamespace, "", true},
		{"create", "coordination.k8s.io", "leases", "", servicesNamespace, "", true},
		{"update", "coordination.k8s.io", "leases", "", servicesNamespace, "vipkeeper-claim-c0000281", true},
		{"delete", "coordination.k8s.io", "leases", "", servicesNamespace, "vipkeeper-claim-c0000281", true},
		{"list", "coordination.k8s.io", "leases", "", leaseNamespace, "", true}, // the guard's one list
		// Not sent, so not granted.
		{"get", "", "services", "", "team-a", "web", false},
		{"update", "", "services", "status", "team-a", "web", false},
		{"update", "", "services", "", "team-a", "web", false},
		{"patch", "", "services", "", "team-a", "web", false},
		{"create", "", "services", "", "team-a", "", false},
		{"delete", "", "services", "", "team-a", "web", false},
		{"get", "discovery.k8s.io", "endpointslices", "", "team-a", "web", false},
		{"update", "discovery.k8s.io", "endpointslices", "", "team-a", "web", false},
		{"patch", "coordination.k8s.io", "leases", "", servicesNamespace, "vipkeeper-claim-c0000281", false},
		{"deletecollection", "coordination.k8s.io", "leases", "", servicesNamespace, "", false},
		// The cluster's own Leases stay out of reach: read one by name,
		// watch them, write or delete them.
		{"get", "coordination.k8s.io", "leases", "", leaseNamespace, "kube-scheduler", false},
		{"watch", "coordination.k8s.io", "leases", "", leaseNamespace, "", false},
		{"update", "coordination.k8s.io", "leases", "", leaseNamespace, "kube-controller-manager", false},
		{"delete", "coordination.k8s.io", "leases", "", leaseNamespace, "kube-scheduler", false},
		{"list", "coordination.k8s.io", "leases", "", "default", "", false},
		{"delete", "coordination.k8s.io", "leases", "", "default", "x", false},
		{"list", "", "pods", "", "", "", false},
		{"list", "", "nodes", "", "", "", false},
		{"get", "", "secrets", "", leaseNamespace, "x", false},
		{"get", "", "secrets", "", servicesNamespace, "x", false},
		{"delete", "", "events", "", "team-a", "x", false},
		{"update", "", "events", "", "team-a", "x", false},
	}
	for _, s := range subjects {
		for _, tt := range tests {
			sar, err := admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
				Spec: authorizationv1.SubjectAccessReviewSpec{User: s.user, Groups: s.groups, ResourceAttributes: &authorizationv1.ResourceAttributes{
					Verb: tt.verb, Group: tt.group, Resource: tt.resource, Subresource: tt.subresource, Namespace: tt.namespace, Name: tt.name}},
			}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if sar.Status.Allowed != tt.want {
				t.Errorf("%s may %s %s/%s %s/%s: %v, want %v (%s)", s.user, tt.verb, tt.resource, tt.subresource,
					tt.namespace, tt.name, sar.Status.Allowed, tt.want, sar.Status.Reason)
			}
		}
	}
	return grants
}

// metaOf is obj's object metadata.
func metaOf(obj runtime.Object) (metav1.Object, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no object metadata", obj)
	}
	return m, nil
}

// Addresses the services daemons are asked for that no pool holds: their
// Warning Events are what makes the recorder create and then patch one.
var (
	outsideA = netip.MustParseAddr("203.0.113.7")
	outsideB = netip.MustParseAddr("203.0.113.8")
)

// runServicesDaemons replaces the control-plane daemon of node 0 by two
// daemons (nodes 0 and 1) that run services mode beside the VIP, with
// exactly the generated RBAC, and makes them send every request the RBAC
// allows: they take the VIP and serve a Service from their own namespace
// (guard list, node and claim Leases), warn about a Service they cannot
// serve — twice the same Warning, which the recorder patches — restore a
// VIP removed behind their back twice (the Lease's Event patched), and
// delete the claim of a deleted Service.
func runServicesDaemons(ctx context.Context, t *testing.T, l *lab.Lab) {
	l.KillNode(0, syscall.SIGTERM)
	if code := l.WaitNodeExit(0, 30*time.Second); code != 0 {
		t.Fatalf("vipkeeper on %s exited %d on SIGTERM", l.NodeName(0), code)
	}
	for i := range 2 {
		l.StartNodeArgs(i, servicesFlags()...)
	}
	vip := l.VIPs()[0]
	owner := l.WaitOwner(vip, 30*time.Second)
	if owner == "" {
		t.Fatal("nobody took the VIP")
	}

	l.CreateService(lab.ServiceSpec{Name: "web"})
	addr := checkIngress(t, l.WaitIngress("", "web", serviceUp), netip.Addr{})
	if got := l.WaitServed(addr, 10*time.Second); got == "" {
		t.Errorf("%s is not served", addr)
	}
	claims, err := l.LeasesIn(servicesNamespace, lab.RoleClaim)
	if err != nil || claims[lab.ClaimLeaseName(addr)] == "" {
		t.Errorf("claims in %s: %v (%v); want one for %s", servicesNamespace, claims, err, addr)
	}
	if old, err := l.LeasesIn(leaseNamespace, lab.RoleNode); err != nil || len(old) > 0 {
		t.Errorf("node Leases in %s: %v (%v); want none", leaseNamespace, old, err)
	}

	// The same Warning twice: A, B, then A again, which the recorder
	// patches (count 2) instead of creating.
	l.CreateService(lab.ServiceSpec{Name: "outside", Requested: []netip.Addr{outsideA}})
	waitWarning(t, l, "outside", outsideA, 1)
	setRequested(ctx, t, l, "outside", outsideB)
	waitWarning(t, l, "outside", outsideB, 1)
	setRequested(ctx, t, l, "outside", outsideA)
	waitWarning(t, l, "outside", outsideA, 2)

	// The VIP removed twice behind the holder's back: the same Restored
	// Event twice, patched.
	i := l.NodeIndex(owner)
	for round := range 2 {
		if l.DelVIP(i) == 0 {
			t.Fatalf("round %d: %s held no VIP", round, owner)
		}
		if !lab.WaitFor(10*time.Second, func() bool { got, _ := l.OwnersOf(vip); return slices.Equal(got, []string{owner}) }) {
			t.Fatalf("round %d: %s did not restore %s", round, owner, vip)
		}
	}
	sel := fields.AndSelectors(fields.OneTermEqualSelector("involvedObject.name", leaseName),
		fields.OneTermEqualSelector("reason", "VIPRestored")).String()
	if !lab.WaitFor(10*time.Second, func() bool {
		ev, err := l.Admin().CoreV1().Events(leaseNamespace).List(ctx, metav1.ListOptions{FieldSelector: sel})
		return err == nil && slices.ContainsFunc(ev.Items, func(e corev1.Event) bool { return e.Count >= 2 })
	}) {
		t.Errorf("no VIPRestored Event with count 2 on the Lease")
	}

	l.DeleteService("", "web")
	if !lab.WaitFor(unbindBound, func() bool {
		claims, err := l.LeasesIn(servicesNamespace, lab.RoleClaim)
		_, ok := claims[lab.ClaimLeaseName(addr)]
		return err == nil && !ok
	}) {
		t.Errorf("the claim of %s was not deleted with its Service", addr)
	}
	checkNotForbidden(t, l)
}

// setRequested makes Service name request addr instead.
func setRequested(ctx context.Context, t *testing.T, l *lab.Lab, name string, addr netip.Addr) {
	t.Helper()
	svc, err := l.GetService("", name)
	if err != nil {
		t.Fatal(err)
	}
	svc.Annotations[lab.AnnotationLoadBalancerIPs] = addr.String()
	if _, err := l.Admin().CoreV1().Services(svc.Namespace).Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitWarning waits for the AllocationFailed Event that names addr on
// Service name to reach count.
func waitWarning(t *testing.T, l *lab.Lab, name string, addr netip.Addr, count int32) {
	t.Helper()
	var seen []string
	if !lab.WaitFor(serviceUp, func() bool {
		evs, err := l.ServiceEvents("", name)
		if err != nil {
			return false
		}
		seen = seen[:0]
		for _, e := range evs {
			seen = append(seen, fmt.Sprintf("%s ×%d: %s", e.Reason, e.Count, e.Message))
			if e.Reason == lab.ReasonAllocationFailed && strings.Contains(e.Message, addr.String()) && e.Count >= count {
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no %s Event about %s with count %d on Service %s; Events: %v", lab.ReasonAllocationFailed, addr, count, name, seen)
	}
}

// checkEveryVerbUsed: each verb of each applied rule was used by a daemon
// (a request the rule allows, and the authorizer let through), and no
// daemon request was refused. Together with the authorizer checks this proves
// the generated RBAC neither too wide nor too narrow.
func checkEveryVerbUsed(t *testing.T, grants []grant, events []lab.AuditEvent) {
	if len(events) == 0 {
		t.Fatal("no audit events of the node group")
	}
	for _, e := range events {
		if e.Code == 403 {
			t.Errorf("refused: %s", e)
		}
	}
	for _, g := range grants {
		for _, verb := range g.rule.Verbs {
			used := slices.ContainsFunc(events, func(e lab.AuditEvent) bool {
				// Authorized: anything but 401 and 403 (a get of a
				// Lease not created yet is a 404, and was allowed).
				return e.Verb == verb && e.Code > 0 && e.Code != 401 && e.Code != 403 && allows(g, e)
			})
			where := g.namespace
			if where == "" {
				where = "every namespace"
			}
			if !used {
				t.Errorf("granted, never used: %s %v %v (names %v) in %s", verb, g.rule.APIGroups, g.rule.Resources, g.rule.ResourceNames, where)
			} else {
				t.Logf("used: %s %v %v (names %v) in %s", verb, g.rule.APIGroups, g.rule.Resources, g.rule.ResourceNames, where)
			}
		}
	}
	counts := map[string]int{}
	for _, e := range events {
		counts[fmt.Sprintf("%s %s %s", e.Verb, e.Resource, e.Namespace)]++
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range counts {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		t.Logf("requests: %-60s %d", k, counts[k])
	}
}

// allows reports whether rule g covers request e, verb aside.
func allows(g grant, e lab.AuditEvent) bool {
	r := g.rule
	return (g.namespace == "" || g.namespace == e.Namespace) &&
		slices.Contains(r.APIGroups, e.APIGroup) &&
		slices.Contains(r.Resources, e.Resource) &&
		(len(r.ResourceNames) == 0 || slices.Contains(r.ResourceNames, e.Name))
}
