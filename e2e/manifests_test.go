package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/vipkeeper/vipkeeper/e2e/lab"
)

// The generated example manifests (`make manifests`) name these.
const (
	manifestsDir   = "../manifests"
	leaseNamespace = "kube-system"
	leaseName      = "vipkeeper"
	serviceAccount = "vipkeeper"
	nodeGroup      = "vipkeeper-nodes" // manifest.NodeGroup; the lab's node certificates carry it too
	labAPIServer   = "192.0.2.2"       // lab.APIAddr(), checked below
	// servicesNamespace is where the services examples keep their Leases.
	servicesNamespace = "vipkeeper-system"
)

// TestManifests proves the files in manifests/ valid against the lab's
// real kube-apiserver and the RBAC in them least-privilege:
//   - the static pod, the DaemonSet and the RBAC objects pass a
//     server-side dry-run create (strict field validation, admission);
//   - with the lab's own grants revoked and rbac.yaml applied, a node
//     identity (group vipkeeper-nodes) can do what the daemon does and is
//     forbidden the rest; the ServiceAccount gets the same verdicts;
//   - `vipkeeper manifest rbac --services --services-namespace …`
//     generates lab.ServicesRules, lab.ServiceLeaseRules and
//     lab.GuardRules (the services scenarios run with those), and applied
//     it allows what services mode does and nothing more;
//   - a daemon with exactly that RBAC wins the lease and holds the VIP,
//     reaching the API server through --api-server after the first one
//     refuses; then two daemons in services mode beside the VIP serve a
//     Service from their own namespace;
//   - every verb of every generated rule was used by those daemons (the
//     API server's audit log), and none of their requests was refused.
func TestManifests(t *testing.T) {
	l := lab.Start(t, lab.Options{
		Nodes: 2, NoDaemons: true, Audit: true, LeaseName: leaseName, LeaseNamespace: leaseNamespace,
		// The first server refuses (nothing listens on the node's
		// loopback); the daemon must move on to the second.
		ExtraArgs: []string{"--api-server", "https://127.0.0.1:6443", "--api-server", "https://" + labAPIServer + ":6443"},
	})
	if got := l.APIAddr().String(); got != labAPIServer {
		t.Fatalf("the lab's API server moved to %s; update labAPIServer", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := l.Admin()
	revokeLabGrants(ctx, t, admin)

	t.Run("DryRun", func(t *testing.T) {
		// kube-controller-manager would have made kube-system's default
		// ServiceAccount; the ServiceAccount admission plugin needs it
		// for a pod (kubelet's mirror pods skip that plugin).
		_, err := admin.CoreV1().ServiceAccounts(leaseNamespace).Create(ctx,
			&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		for _, file := range []string{"static-pod.yaml", "daemonset.yaml", "rbac.yaml", "rbac-services.yaml"} {
			objs := readManifest(t, file)
			// A Namespace for real: a dry-run one would not hold the
			// dry-run Roles that follow it.
			for _, obj := range objs {
				if ns, ok := obj.(*corev1.Namespace); ok {
					if err := create(ctx, admin, ns, false); err != nil && !apierrors.IsAlreadyExists(err) {
						t.Errorf("%s: create %s: %v", file, ns.Name, err)
					}
				}
			}
			for _, obj := range objs {
				if _, ok := obj.(*corev1.Namespace); ok {
					continue // created above
				}
				if err := create(ctx, admin, obj, true); err != nil {
					t.Errorf("%s: dry-run create %T: %v", file, obj, err)
				} else {
					t.Logf("%s: %T accepted (dry run)", file, obj)
				}
			}
		}
	})

	for _, obj := range readManifest(t, "rbac.yaml") {
		if err := create(ctx, admin, obj, false); err != nil {
			t.Fatalf("rbac.yaml: create %T: %v", obj, err)
		}
		// Every scenario runs its nodes with lab.NodeRules: it must be the
		// documented Role, so that the suite proves it suffices.
		if role, ok := obj.(*rbacv1.Role); ok {
			lease := ""
			if len(role.Rules) > 0 && len(role.Rules[0].ResourceNames) == 1 {
				lease = role.Rules[0].ResourceNames[0]
			}
			if diff := cmp.Diff(lab.NodeRules(lease), role.Rules); diff != "" {
				t.Errorf("lab.NodeRules differs from the generated Role (-lab +generated):\n%s", diff)
			}
		}
	}

	t.Run("NodeIdentity", func(t *testing.T) {
		checkNodeIdentity(ctx, t, l.NodeClient(0))
	})
	t.Run("ServiceAccount", func(t *testing.T) {
		checkServiceAccount(ctx, t, admin)
	})

	var grants []grant // every rule applied, where it applies
	for _, obj := range readManifest(t, "rbac.yaml") {
		grants = append(grants, grantsOf(obj)...)
	}
	t.Run("Services", func(t *testing.T) {
		grants = append(grants, checkServicesRBAC(ctx, t, l)...)
	})

	// From here on the node identities are the daemons alone.
	auditFrom := l.AuditOffset()

	t.Run("Daemon", func(t *testing.T) {
		// The probes above left a Lease held by someone else: clear it.
		if err := admin.CoordinationV1().Leases(leaseNamespace).Delete(ctx, leaseName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		l.StartNode(0)
		vip := l.VIPs()[0]
		owner := l.WaitOwner(vip, 30*time.Second)
		holder, err := l.LeaseHolder(ctx)
		if err != nil || holder != l.NodeName(0) || owner != holder {
			t.Fatalf("lease holder %q (%v), VIP owner %q; want %s", holder, err, owner, l.NodeName(0))
		}
		if lines := l.GrepLog(0, 5, "forbidden"); len(lines) > 0 {
			t.Errorf("the daemon was refused something with the generated RBAC:\n%v", lines)
		}
		if lines := l.GrepLog(0, 1, "using API server", labAPIServer); len(lines) == 0 {
			t.Errorf("the daemon did not fail over to --api-server %s; its log:\n%s", labAPIServer, l.GrepLog(0, 10, "API server"))
		}
		// The Lease's Events, if this build records them, were accepted.
		sel := fields.OneTermEqualSelector("involvedObject.name", leaseName).String()
		lab.WaitFor(10*time.Second, func() bool {
			ev, err := admin.CoreV1().Events(leaseNamespace).List(ctx, metav1.ListOptions{FieldSelector: sel})
			return err == nil && len(ev.Items) > 0
		})
		ev, _ := admin.CoreV1().Events(leaseNamespace).List(ctx, metav1.ListOptions{FieldSelector: sel})
		if ev != nil {
			for _, e := range ev.Items {
				t.Logf("event on the Lease: %s %s: %s", e.Type, e.Reason, e.Message)
			}
		}
	})

	t.Run("ServicesDaemon", func(t *testing.T) {
		runServicesDaemons(ctx, t, l)
	})

	t.Run("EveryVerbUsed", func(t *testing.T) {
		checkEveryVerbUsed(t, grants, l.AuditEvents(auditFrom))
	})
}

// revokeLabGrants removes the lab's own RBAC for the node group in the
// lease namespace, so that only the generated Role is left to allow
// anything.
func revokeLabGrants(ctx context.Context, t *testing.T, admin kubernetes.Interface) {
	t.Helper()
	bindings, err := admin.RbacV1().RoleBindings(leaseNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bindings.Items {
		for _, s := range b.Subjects {
			if s.Kind != rbacv1.GroupKind || s.Name != lab.NodeGroup {
				continue
			}
			if err := admin.RbacV1().RoleBindings(leaseNamespace).Delete(ctx, b.Name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			if b.RoleRef.Kind == "Role" {
				if err := admin.RbacV1().Roles(leaseNamespace).Delete(ctx, b.RoleRef.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					t.Fatal(err)
				}
			}
			t.Logf("revoked the lab's grant %s/%s (Role %s)", leaseNamespace, b.Name, b.RoleRef.Name)
			break
		}
	}
	if lab.NodeGroup != nodeGroup {
		t.Fatalf("the lab's node group is %q, the manifests bind %q", lab.NodeGroup, nodeGroup)
	}
}

var strict = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// decodeAll decodes every document of a YAML stream, strictly.
func decodeAll(t *testing.T, what string, data []byte) []runtime.Object {
	t.Helper()
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []runtime.Object
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, _, err := strict.Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		objs = append(objs, obj)
	}
}

// readManifest decodes every document of a file in manifests/, strictly.
func readManifest(t *testing.T, file string) []runtime.Object {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(manifestsDir, file))
	if err != nil {
		t.Fatalf("%v (run `make manifests`)", err)
	}
	return decodeAll(t, file, data)
}

// create creates obj (server-side dry run if dryRun), with strict field
// validation: an unknown or duplicate field is an error.
func create(ctx context.Context, c kubernetes.Interface, obj runtime.Object, dryRun bool) error {
	opts := metav1.CreateOptions{FieldValidation: "Strict"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	var err error
	switch o := obj.(type) {
	case *corev1.Pod:
		_, err = c.CoreV1().Pods(o.Namespace).Create(ctx, o, opts)
	case *appsv1.DaemonSet:
		_, err = c.AppsV1().DaemonSets(o.Namespace).Create(ctx, o, opts)
	case *corev1.Namespace:
		_, err = c.CoreV1().Namespaces().Create(ctx, o, opts)
	case *corev1.ServiceAccount:
		_, err = c.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, opts)
	case *rbacv1.Role:
		_, err = c.RbacV1().Roles(o.Namespace).Create(ctx, o, opts)
	case *rbacv1.RoleBinding:
		_, err = c.RbacV1().RoleBindings(o.Namespace).Create(ctx, o, opts)
	case *rbacv1.ClusterRole:
		_, err = c.RbacV1().ClusterRoles().Create(ctx, o, opts)
	case *rbacv1.ClusterRoleBinding:
		_, err = c.RbacV1().ClusterRoleBindings().Create(ctx, o, opts)
	default:
		err = fmt.Errorf("unexpected kind %T", obj)
	}
	return err
}

// checkNodeIdentity makes the daemon's calls, and some it must not make,
// as a node identity that only the generated Role grants anything to.
func checkNodeIdentity(ctx context.Context, t *testing.T, c kubernetes.Interface) {
	leases := c.CoordinationV1().Leases(leaseNamespace)
	holder := "rbac-probe"
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: leaseName},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: ptrTo[int32](1)}}
	var event *corev1.Event
	allowed := []struct {
		what string
		call func() error
	}{
		{"create its lease", func() error { _, err := leases.Create(ctx, lease, metav1.CreateOptions{}); return err }},
		{"get its lease", func() error { _, err := leases.Get(ctx, leaseName, metav1.GetOptions{}); return err }},
		{"update its lease", func() error {
			cur, err := leases.Get(ctx, leaseName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			other := "rbac-probe-2"
			cur.Spec.HolderIdentity = &other
			_, err = leases.Update(ctx, cur, metav1.UpdateOptions{})
			return err
		}},
		{"watch its lease (field selector, as the election does)", func() error {
			w, err := leases.Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", leaseName).String()})
			if err != nil {
				return err
			}
			defer w.Stop()
			select {
			case ev := <-w.ResultChan():
				if _, ok := ev.Object.(*coordinationv1.Lease); !ok {
					return fmt.Errorf("watch sent %s %T", ev.Type, ev.Object)
				}
				return nil
			case <-time.After(10 * time.Second):
				return errors.New("no watch event in 10s")
			}
		}},
		{"create an Event on its lease", func() error {
			var err error
			event, err = c.CoreV1().Events(leaseNamespace).Create(ctx, &corev1.Event{
				ObjectMeta:     metav1.ObjectMeta{GenerateName: leaseName + "."},
				InvolvedObject: corev1.ObjectReference{APIVersion: "coordination.k8s.io/v1", Kind: "Lease", Namespace: leaseNamespace, Name: leaseName},
				Reason:         "RBACProbe", Message: "least-privilege check", Type: corev1.EventTypeNormal,
				Source: corev1.EventSource{Component: "vipkeeper"}, Count: 1,
			}, metav1.CreateOptions{})
			return err
		}},
		{"patch that Event (a repeat)", func() error {
			if event == nil {
				return errors.New("no event to patch")
			}
			_, err := c.CoreV1().Events(leaseNamespace).Patch(ctx, event.Name, types.StrategicMergePatchType, []byte(`{"count":2}`), metav1.PatchOptions{})
			return err
		}},
	}
	for _, a := range allowed {
		if err := a.call(); err != nil {
			t.Errorf("%s: %v", a.what, err)
		}
	}
	forbidden := []struct {
		what string
		call func() error
	}{
		{"list leases", func() error { _, err := leases.List(ctx, metav1.ListOptions{}); return err }},
		{"watch every lease", func() error {
			w, err := leases.Watch(ctx, metav1.ListOptions{})
			if err == nil {
				w.Stop()
			}
			return err
		}},
		{"delete its lease", func() error { return leases.Delete(ctx, leaseName, metav1.DeleteOptions{}) }},
		{"patch its lease", func() error {
			_, err := leases.Patch(ctx, leaseName, types.MergePatchType, []byte(`{"spec":{"holderIdentity":"x"}}`), metav1.PatchOptions{})
			return err
		}},
		{"get another lease", func() error { _, err := leases.Get(ctx, "kube-scheduler", metav1.GetOptions{}); return err }},
		{"get a lease in another namespace", func() error {
			_, err := c.CoordinationV1().Leases("default").Get(ctx, leaseName, metav1.GetOptions{})
			return err
		}},
		{"create a lease in another namespace", func() error {
			_, err := c.CoordinationV1().Leases("default").Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: leaseName}}, metav1.CreateOptions{})
			return err
		}},
		{"list pods", func() error { _, err := c.CoreV1().Pods(leaseNamespace).List(ctx, metav1.ListOptions{}); return err }},
		{"get secrets", func() error { _, err := c.CoreV1().Secrets(leaseNamespace).List(ctx, metav1.ListOptions{}); return err }},
		{"list nodes (cluster-wide)", func() error { _, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); return err }},
		{"delete an Event", func() error {
			if event == nil {
				return apierrors.NewForbidden(corev1.Resource("events"), "", errors.New("skipped"))
			}
			return c.CoreV1().Events(leaseNamespace).Delete(ctx, event.Name, metav1.DeleteOptions{})
		}},
	}
	for _, f := range forbidden {
		if err := f.call(); !apierrors.IsForbidden(err) {
			t.Errorf("%s: got %v, want Forbidden", f.what, err)
		}
	}
}

// checkServiceAccount asks the authorizer about the DaemonSet's
// ServiceAccount: the same verdicts as for the node group.
func checkServiceAccount(ctx context.Context, t *testing.T, admin kubernetes.Interface) {
	user := "system:serviceaccount:" + leaseNamespace + ":" + serviceAccount
	groups := []string{"system:serviceaccounts", "system:serviceaccounts:" + leaseNamespace, "system:authenticated"}
	tests := []struct {
		verb, group, resource, namespace, name string
		want                                   bool
	}{
		{"get", "coordination.k8s.io", "leases", leaseNamespace, leaseName, true},
		{"update", "coordination.k8s.io", "leases", leaseNamespace, leaseName, true},
		{"watch", "coordination.k8s.io", "leases", leaseNamespace, leaseName, true},
		{"create", "coordination.k8s.io", "leases", leaseNamespace, "", true},
		{"create", "", "events", leaseNamespace, "", true},
		{"patch", "", "events", leaseNamespace, "x", true},
		{"list", "coordination.k8s.io", "leases", leaseNamespace, "", false},
		{"delete", "coordination.k8s.io", "leases", leaseNamespace, leaseName, false},
		{"get", "coordination.k8s.io", "leases", leaseNamespace, "other", false},
		{"get", "coordination.k8s.io", "leases", "default", leaseName, false},
		{"list", "", "pods", leaseNamespace, "", false},
		{"list", "", "nodes", "", "", false},
	}
	for _, tt := range tests {
		sar, err := admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: user, Groups: groups, ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: tt.verb, Group: tt.group, Resource: tt.resource, Namespace: tt.namespace, Name: tt.name}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed != tt.want {
			t.Errorf("%s may %s %s %s/%s: %v, want %v (%s)", user, tt.verb, tt.resource, tt.namespace, tt.name, sar.Status.Allowed, tt.want, sar.Status.Reason)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }
