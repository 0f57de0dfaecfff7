package manifest

import (
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
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

// ServicesName names the services-mode RBAC objects: a ClusterRole and its
// ClusterRoleBinding, and a Role and its RoleBinding in the lease namespace.
const ServicesName = name + "-services"

// ServicesRules is what the LoadBalancer Services controller does
// cluster-wide (ClusterRole vipkeeper-services):
//   - get, list and watch Services: the informer, in every namespace;
//   - update and patch services/status: status.loadBalancer.ingress. The
//     Services themselves are never written;
//   - list and watch EndpointSlices: which nodes have ready endpoints of
//     an externalTrafficPolicy: Local Service;
//   - create and patch Events: Warning Events on the Services, in their
//     namespaces.
func ServicesRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{corev1.GroupName}, Resources: []string{"services"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{corev1.GroupName}, Resources: []string{"services/status"}, Verbs: []string{"update", "patch"}},
		{APIGroups: []string{discoveryv1.GroupName}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{corev1.GroupName}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	}
}

// ServiceLeaseRules is what services mode adds in the lease namespace
// (Role vipkeeper-services): the node Leases vipkeeper-node-<node>, the
// claim Leases vipkeeper-claim-<address> and the allocator claim
// vipkeeper-services-allocator. Their names depend on the nodes and the
// addresses, so no resourceNames: every node watches all of them, and a
// released address's claim is deleted.
func ServiceLeaseRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{coordinationv1.GroupName}, Resources: []string{"leases"},
			Verbs: []string{"get", "list", "watch", "create", "update", "delete"}},
	}
}

func rbac(cfg *config.Config, o Options) ([]byte, error) {
	ns := cfg.LeaseNamespace
	meta := metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}
	// The DaemonSet's ServiceAccount, and the node group for static pods
	// and systemd units with a per-node certificate.
	subjects := []rbacv1.Subject{
		{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns},
		{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: NodeGroup},
	}
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
		Subjects:   subjects,
	}
	objs := []any{sa, role, binding}
	scope := " Nothing cluster-wide."
	if cfg.Services {
		scope = ""
	}
	head := []string{
		"What vipkeeper may do, and nothing more: its Lease " + ns + "/" + cfg.LeaseName + " (get, update, watch;",
		"create, which RBAC cannot limit by name) and Events in " + ns + " (create, patch)." + scope,
	}
	if cfg.Services {
		objs = append(objs, servicesRBAC(ns, subjects)...)
		head = append(head,
			"Services mode (--services) adds ClusterRole "+ServicesName+": get, list and watch Services, update and",
			"patch their status, list and watch EndpointSlices, create and patch Events, in every namespace;",
			"and Role "+ns+"/"+ServicesName+": every Lease in "+ns+" (get, list, watch, create, update, delete),",
			"for the node and claim Leases, whose names are not known in advance (docs/services.md).",
		)
	}
	head = append(head,
		"",
		"Bound to the DaemonSet's ServiceAccount and to the group "+NodeGroup+", for static pods or",
		"systemd units that use a per-node client certificate (CN=vipkeeper:<node>, O="+NodeGroup+")",
		"instead of kubeadm's admin.conf (docs/deploy-static-pod.md).",
	)
	return render(header(o, head...), objs...)
}

// servicesRBAC is what --services adds: the ClusterRole of ServicesRules and
// the Role of ServiceLeaseRules, each bound to subjects. They are objects of
// their own, so the control-plane Role stays exactly Rules(lease).
func servicesRBAC(ns string, subjects []rbacv1.Subject) []any {
	meta := metav1.ObjectMeta{Name: ServicesName, Namespace: ns, Labels: labels}
	clusterMeta := metav1.ObjectMeta{Name: ServicesName, Labels: labels}
	return []any{
		&rbacv1.ClusterRole{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
			ObjectMeta: clusterMeta,
			Rules:      ServicesRules(),
		},
		&rbacv1.ClusterRoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
			ObjectMeta: clusterMeta,
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ServicesName},
			Subjects:   subjects,
		},
		&rbacv1.Role{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
			ObjectMeta: meta,
			Rules:      ServiceLeaseRules(),
		},
		&rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: meta,
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: ServicesName},
			Subjects:   subjects,
		},
	}
}
