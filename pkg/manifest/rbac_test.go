package manifest_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/vipkeeper/vipkeeper/pkg/manifest"
)

// object is what the RBAC tests compare: kind, namespace/name and, for
// roles and bindings, the rules or the role a binding grants.
type object struct {
	Kind, Namespace, Name string
	Labels                map[string]string
	Rules                 []rbacv1.PolicyRule
	RoleRef               string
}

func objects(t *testing.T, objs []runtime.Object) []object {
	t.Helper()
	var out []object
	for _, o := range objs {
		switch x := o.(type) {
		case *corev1.Namespace:
			out = append(out, object{Kind: "Namespace", Name: x.Name, Labels: x.Labels})
		case *corev1.ServiceAccount:
			out = append(out, object{Kind: "ServiceAccount", Namespace: x.Namespace, Name: x.Name})
		case *rbacv1.Role:
			out = append(out, object{Kind: "Role", Namespace: x.Namespace, Name: x.Name, Rules: x.Rules})
		case *rbacv1.ClusterRole:
			out = append(out, object{Kind: "ClusterRole", Name: x.Name, Rules: x.Rules})
		case *rbacv1.RoleBinding:
			checkSubjects(t, x.Name, x.Subjects)
			out = append(out, object{Kind: "RoleBinding", Namespace: x.Namespace, Name: x.Name, RoleRef: x.RoleRef.Kind + "/" + x.RoleRef.Name})
		case *rbacv1.ClusterRoleBinding:
			checkSubjects(t, x.Name, x.Subjects)
			out = append(out, object{Kind: "ClusterRoleBinding", Name: x.Name, RoleRef: x.RoleRef.Kind + "/" + x.RoleRef.Name})
		default:
			t.Fatalf("unexpected %T", o)
		}
	}
	return out
}

// checkSubjects: every binding grants the ServiceAccount of the lease
// namespace ("vk" in these tests) and the node group, nobody else.
func checkSubjects(t *testing.T, binding string, got []rbacv1.Subject) {
	t.Helper()
	want := []rbacv1.Subject{
		{Kind: "ServiceAccount", Name: "vipkeeper", Namespace: "vk"},
		{Kind: "Group", APIGroup: rbacv1.GroupName, Name: manifest.NodeGroup},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("binding %s subjects (-want +got):\n%s", binding, diff)
	}
}

var appLabel = map[string]string{"app.kubernetes.io/name": "vipkeeper"}

// TestRBAC pins every object `manifest rbac` emits, per mode.
func TestRBAC(t *testing.T) {
	privileged := map[string]string{"app.kubernetes.io/name": "vipkeeper", "pod-security.kubernetes.io/enforce": "privileged"}
	controlPlane := []object{
		{Kind: "Role", Namespace: "vk", Name: "vipkeeper", Rules: manifest.Rules("cp")},
		{Kind: "RoleBinding", Namespace: "vk", Name: "vipkeeper", RoleRef: "Role/vipkeeper"},
	}
	cluster := []object{
		{Kind: "ClusterRole", Name: manifest.ServicesName, Rules: manifest.ServicesRules()},
		{Kind: "ClusterRoleBinding", Name: manifest.ServicesName, RoleRef: "ClusterRole/" + manifest.ServicesName},
	}
	leasesIn := func(ns string) []object {
		return []object{
			{Kind: "Role", Namespace: ns, Name: manifest.ServicesName, Rules: manifest.ServiceLeaseRules()},
			{Kind: "RoleBinding", Namespace: ns, Name: manifest.ServicesName, RoleRef: "Role/" + manifest.ServicesName},
		}
	}
	guard := []object{
		{Kind: "Role", Namespace: "vk", Name: manifest.GuardName, Rules: manifest.GuardRules()},
		{Kind: "RoleBinding", Namespace: "vk", Name: manifest.GuardName, RoleRef: "Role/" + manifest.GuardName},
	}
	join := func(parts ...[]object) []object { return slices.Concat(parts...) }
	nsVK := []object{{Kind: "Namespace", Name: "vk", Labels: privileged}}
	sa := []object{{Kind: "ServiceAccount", Namespace: "vk", Name: "vipkeeper"}}
	base := []string{"--interface", "eth0", "--lease-namespace", "vk", "--lease-name", "cp"}
	vip := []string{"--vip", "192.0.2.100"}
	tests := []struct {
		name string
		args []string
		want []object
	}{
		{"control plane: nothing cluster-wide", vip, join(nsVK, sa, controlPlane)},
		{"services beside a VIP, Leases in the lease namespace (as before --services-namespace)",
			slices.Concat(vip, services), join(nsVK, sa, controlPlane, cluster, leasesIn("vk"))},
		{"services only: no right on the control-plane Lease", services, join(nsVK, sa, cluster, leasesIn("vk"))},
		{"services in a namespace of their own, and the guard's list where they were",
			slices.Concat(vip, services, []string{"--services-namespace", "vipkeeper-system"}),
			join(nsVK, []object{{Kind: "Namespace", Name: "vipkeeper-system", Labels: appLabel}}, sa, controlPlane, cluster, leasesIn("vipkeeper-system"), guard)},
		{"a built-in services namespace is not emitted", slices.Concat(services, []string{"--services-namespace", "default"}),
			join(nsVK, sa, cluster, leasesIn("default"), guard)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := objects(t, decode(t, generate(t, manifest.RBAC, loadArgs(t, append(slices.Clone(base), tt.args...)...))))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRBACKubeSystem: in kube-system (the default) no Namespace is
// emitted, and a services Role there says what it covers.
func TestRBACKubeSystem(t *testing.T) {
	out := generate(t, manifest.RBAC, load(t, services...))
	for _, o := range decode(t, out) {
		if _, ok := o.(*corev1.Namespace); ok {
			t.Error("a Namespace for kube-system")
		}
	}
	if !strings.Contains(string(out), "--services-namespace vipkeeper-system") {
		t.Errorf("the header does not point at --services-namespace:\n%s", out)
	}
	if out := generate(t, manifest.RBAC, load(t)); strings.Contains(string(out), manifest.ServicesName) {
		t.Errorf("services RBAC without --services:\n%s", out)
	}
}

// TestRules pins the rules: every verb is one the code sends (the e2e
// suite proves each is used and nothing else is allowed); resourceNames
// where the name is fixed.
func TestRules(t *testing.T) {
	leases := func(verbs ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: verbs}
	}
	named := leases("get", "update", "watch")
	named.ResourceNames = []string{"cp"}
	for _, tt := range []struct {
		name      string
		got, want []rbacv1.PolicyRule
	}{
		{"Rules", manifest.Rules("cp"), []rbacv1.PolicyRule{
			named, leases("create"),
			{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
		}},
		{"ServicesRules", manifest.ServicesRules(), []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"list", "watch"}},
			{APIGroups: []string{""}, Resources: []string{"services/status"}, Verbs: []string{"patch"}},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
			{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
		}},
		{"ServiceLeaseRules", manifest.ServiceLeaseRules(), []rbacv1.PolicyRule{leases("get", "list", "watch", "create", "update", "delete")}},
		{"GuardRules", manifest.GuardRules(), []rbacv1.PolicyRule{leases("list")}},
		{"PoolRules", manifest.PoolRules(), []rbacv1.PolicyRule{
			{APIGroups: []string{"vipkeeper.io"}, Resources: []string{"addresspools"}, Verbs: []string{"list", "watch"}},
			{APIGroups: []string{"vipkeeper.io"}, Resources: []string{"addresspools/status"}, Verbs: []string{"update"}},
			{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"list", "watch"}},
		}},
	} {
		if diff := cmp.Diff(tt.want, tt.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

// TestRBACPoolObjects: the pool objects' ClusterRole comes only with
// --services-pool-objects, bound like the others.
func TestRBACPoolObjects(t *testing.T) {
	var got []object
	for _, o := range objects(t, decode(t, generate(t, manifest.RBAC, load(t, "--lease-namespace", "vk", "--services", "--services-pool-objects")))) {
		if strings.HasSuffix(o.Name, "-pools") {
			got = append(got, o)
		}
	}
	want := []object{
		{Kind: "ClusterRole", Name: manifest.PoolsName, Rules: manifest.PoolRules()},
		{Kind: "ClusterRoleBinding", Name: manifest.PoolsName, RoleRef: "ClusterRole/" + manifest.PoolsName},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if out := generate(t, manifest.RBAC, load(t, services...)); strings.Contains(string(out), manifest.PoolsName) {
		t.Errorf("pool RBAC with flag pools:\n%s", out)
	}
}
