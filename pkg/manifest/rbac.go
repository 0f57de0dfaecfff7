package manifest

import (
	"maps"
	"slices"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipkeeper/vipkeeper/pkg/config"
	"github.com/vipkeeper/vipkeeper/pkg/services/pools"
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
// ClusterRoleBinding, a Role and its RoleBinding in the services namespace,
// and the guard's Role and RoleBinding in the lease namespace.
const ServicesName = name + "-services"

// GuardName names the Role and RoleBinding of the services guard
// (pkg/services/nsguard) in the lease namespace.
const GuardName = ServicesName + "-guard"

// ServicesRules is what the LoadBalancer Services controller does
// cluster-wide (ClusterRole vipkeeper-services), each verb one the code
// sends (pkg/services):
//   - list and watch Services: the informer, in every namespace. No get:
//     the controller reads its cache;
//   - patch services/status: status.loadBalancer.ingress, a merge patch.
//     No update, and the Services themselves are never written;
//   - list and watch EndpointSlices: which nodes have ready endpoints of
//     an externalTrafficPolicy: Local Service;
//   - create and patch Events: Warning Events on the Services, in their
//     namespaces; patch is how a repeated Event's count is bumped.
func ServicesRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{corev1.GroupName}, Resources: []string{"services"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{corev1.GroupName}, Resources: []string{"services/status"}, Verbs: []string{"patch"}},
		{APIGroups: []string{discoveryv1.GroupName}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{corev1.GroupName}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	}
}

// PoolsName names the ClusterRole and ClusterRoleBinding of the pool
// objects (--services-pool-objects).
const PoolsName = ServicesName + "-pools"

// PoolRules is what services mode does with the AddressPool objects
// (ClusterRole vipkeeper-services-pools, only with --services-pool-objects;
// pkg/services/pools):
//   - list and watch them: every node derives the pools from them;
//   - list and watch Nodes: a pool's nodeSelector matches their labels,
//     and every node must see every node's labels to decide alike. A
//     Node's spec and status are read too (RBAC cannot take fields
//     apart); nothing is written;
//   - update their status: the allocator node writes the Valid condition
//     and the usage. RBAC cannot say "only the allocator": every node may
//     become the allocator, so every node may write every pool's status.
//     A status is a report; no node reads a pool's status to decide
//     anything, so a forged one misleads a reader but moves no address.
//
// No get, and never the spec: pools are the operator's. The objects are
// cluster-scoped (addresses are a cluster-wide resource, and a pool names
// the namespaces that may use it), so this is a ClusterRole over this one
// resource.
func PoolRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{pools.Group}, Resources: []string{pools.Resource}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{pools.Group}, Resources: []string{pools.Resource + "/status"}, Verbs: []string{"update"}},
		{APIGroups: []string{corev1.GroupName}, Resources: []string{"nodes"}, Verbs: []string{"list", "watch"}},
	}
}

// ServiceLeaseRules is what services mode does in the services namespace
// (Role vipkeeper-services): the node Leases vipkeeper-node-<node>, the
// claim Leases vipkeeper-claim-<address> and the allocator claim
// vipkeeper-services-allocator. Their names depend on the nodes and the
// addresses, so no resourceNames: every node watches all of them (list,
// watch), renews its own and writes claims (create, update, get to
// re-read after a conflict and for the quorum read before a takeover),
// and a released address's claim is deleted. In a namespace of its own
// (--services-namespace) that touches no other Lease.
func ServiceLeaseRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{coordinationv1.GroupName}, Resources: []string{"leases"},
			Verbs: []string{"get", "list", "watch", "create", "update", "delete"}},
	}
}

// GuardRules is what the services guard needs in the lease namespace when
// the services Leases live elsewhere (Role vipkeeper-services-guard): one
// list of the node Leases an earlier install left there, at start-up. A
// list cannot be limited by name or label, so it reads every Lease there;
// it writes none.
func GuardRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{coordinationv1.GroupName}, Resources: []string{"leases"}, Verbs: []string{"list"}},
	}
}

// builtinNamespaces exist in every cluster; rbac emits no Namespace for them.
var builtinNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease"}

// podSecurityLabels let the namespace run the pods: host network and
// NET_ADMIN need the privileged level.
var podSecurityLabels = map[string]string{"pod-security.kubernetes.io/enforce": "privileged"}

func rbac(cfg *config.Config, o Options) ([]byte, error) {
	ns := cfg.LeaseNamespace
	svcNS := cfg.ServicesLeaseNamespace()
	meta := metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}
	// The DaemonSet's ServiceAccount, and the node group for static pods
	// and systemd units with a per-node certificate.
	subjects := []rbacv1.Subject{
		{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns},
		{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: NodeGroup},
	}
	var objs []any
	var head []string
	if !slices.Contains(builtinNamespaces, ns) {
		objs = append(objs, namespace(ns, podSecurityLabels))
		head = append(head, "Namespace "+ns+": the ServiceAccount and the DaemonSet's pods (host network, NET_ADMIN: privileged).")
	}
	if cfg.Services && svcNS != ns && !slices.Contains(builtinNamespaces, svcNS) {
		objs = append(objs, namespace(svcNS, nil))
		head = append(head, "Namespace "+svcNS+": services mode's node and claim Leases, and nothing else.")
	}
	objs = append(objs, &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: meta,
	})
	// Services mode without a VIP runs no control-plane election, so it
	// gets no right on that Lease.
	if len(cfg.VIPs) > 0 {
		objs = append(objs, role(meta, Rules(cfg.LeaseName), subjects)...)
		head = append(head,
			"Role "+ns+"/"+name+": its Lease "+ns+"/"+cfg.LeaseName+" (get, update, watch; create, which RBAC",
			"cannot limit by name) and Events in "+ns+" (create, patch).")
	}
	if !cfg.Services {
		head = append(head, "Nothing cluster-wide.")
	} else {
		objs = append(objs, clusterRole(ServicesName, labels, ServicesRules(), subjects)...)
		if cfg.ServicePoolObjects {
			objs = append(objs, clusterRole(PoolsName, labels, PoolRules(), subjects)...)
			head = append(head,
				"ClusterRole "+PoolsName+" (--services-pool-objects): list and watch AddressPools, update their",
				"status (the allocator node's Valid condition and usage), never their spec; list and watch Nodes",
				"(a pool's nodeSelector matches their labels).")
		}
		objs = append(objs, role(metav1.ObjectMeta{Name: ServicesName, Namespace: svcNS, Labels: labels}, ServiceLeaseRules(), subjects)...)
		head = append(head,
			"Services mode (--services), cluster-wide: ClusterRole "+ServicesName+": list and watch Services, patch",
			"their status, list and watch EndpointSlices, create and patch Events (in the Services' namespaces).",
			"Role "+svcNS+"/"+ServicesName+": every Lease in "+svcNS+" (get, list, watch, create, update, delete),",
			"the node and claim Leases, whose names are not known in advance (docs/services.md).")
		if svcNS != ns {
			objs = append(objs, role(metav1.ObjectMeta{Name: GuardName, Namespace: ns, Labels: labels}, GuardRules(), subjects)...)
			head = append(head,
				"Role "+ns+"/"+GuardName+": list Leases in "+ns+", once at start-up, to find node Leases of an",
				"install that serves from there (docs/services.md, \"Moving the services Leases\").")
		} else {
			head = append(head,
				"That Role covers every Lease in "+ns+", the cluster's own too if that is kube-system: new installs",
				"should give the services Leases a namespace of their own (--services-namespace vipkeeper-system).")
		}
	}
	head = append(head,
		"",
		"Bound to the DaemonSet's ServiceAccount and to the group "+NodeGroup+", for static pods or",
		"systemd units that use a per-node client certificate (CN=vipkeeper:<node>, O="+NodeGroup+")",
		"instead of kubeadm's admin.conf (docs/deploy-static-pod.md).",
	)
	return render(header(o, append([]string{"What vipkeeper may do, and nothing more:"}, head...)...), objs...)
}

// namespace is a Namespace object with labels on top of the common ones.
func namespace(ns string, extra map[string]string) *corev1.Namespace {
	l := maps.Clone(labels)
	maps.Copy(l, extra)
	return &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: l},
	}
}

// role is a Role with rules and its RoleBinding to subjects, both named
// and placed by meta.
func role(meta metav1.ObjectMeta, rules []rbacv1.PolicyRule, subjects []rbacv1.Subject) []any {
	return []any{
		&rbacv1.Role{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
			ObjectMeta: meta,
			Rules:      rules,
		},
		&rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: meta,
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: meta.Name},
			Subjects:   subjects,
		},
	}
}

// clusterRole is a ClusterRole named name with rules, and the
// ClusterRoleBinding of the same name that grants it to subjects.
func clusterRole(name string, labels map[string]string, rules []rbacv1.PolicyRule, subjects []rbacv1.Subject) []any {
	meta := metav1.ObjectMeta{Name: name, Labels: labels}
	return []any{
		&rbacv1.ClusterRole{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
			ObjectMeta: meta,
			Rules:      rules,
		},
		&rbacv1.ClusterRoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
			ObjectMeta: meta,
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
			Subjects:   subjects,
		},
	}
}
