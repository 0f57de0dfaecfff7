package manifest

import (
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipkeeper/vipkeeper/pkg/config"
)

// Rules is everything vipkeeper does with the API, all of it in the lease
// namespace:
//   - get, update and watch its one Lease. The watch carries the field
//     selector metadata.name=<lease>, which the API server authorizes as a
//     watch of that object by name: no list, and resourceNames applies;
//   - create the Lease when it does not exist yet. RBAC cannot limit a
//     create by name (the name is not known when the request is
//     authorized), so any Lease may be created in that namespace;
//   - create Events about the Lease, and patch them, which is how a
//     repeated Event's count is bumped.
//
// Nothing cluster-wide; no list, delete or patch of Leases.
func Rules(leaseName string) []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{coordinationv1.GroupName}, Resources: []string{"leases"}, ResourceNames: []string{leaseName},
			Verbs: []string{"get", "update", "watch"}},
		{APIGroups: []string{coordinationv1.GroupName}, Resources: []string{"leases"}, Verbs: []string{"create"}},
		{APIGroups: []string{corev1.GroupName}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	}
}

func rbac(cfg *config.Config, o Options) ([]byte, error) {
	ns := cfg.LeaseNamespace
	meta := metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}
	sa := &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: meta,
	}
	role := &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: meta,
		Rules:      Rules(cfg.LeaseName),
	}
	binding := &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: meta,
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects: []rbacv1.Subject{
			{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns},
			{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: NodeGroup},
		},
	}
	return render(header(o,
		"What vipkeeper may do, and nothing more: its Lease "+ns+"/"+cfg.LeaseName+" (get, update, watch;",
		"create, which RBAC cannot limit by name) and Events in "+ns+" (create, patch). Nothing cluster-wide.",
		"",
		"Bound to the DaemonSet's ServiceAccount and to the group "+NodeGroup+", for static pods or",
		"systemd units that use a per-node client certificate (CN=vipkeeper:<node>, O="+NodeGroup+")",
		"instead of kubeadm's admin.conf (docs/deploy-static-pod.md).",
	), sa, role, binding)
}
