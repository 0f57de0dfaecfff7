package lab

import (
	"context"
	"fmt"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// PoolGVR is the AddressPool resource (pkg/services/pools.GVR).
var PoolGVR = schema.GroupVersionResource{Group: "vipkeeper.io", Version: "v1alpha1", Resource: "addresspools"}

// crdGVR is where CustomResourceDefinitions live.
var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// Dynamic returns a cluster-admin dynamic client.
func (l *Lab) Dynamic() dynamic.Interface {
	l.t.Helper()
	c, err := l.dynamic()
	if err != nil {
		l.t.Fatalf("Dynamic: %v", err)
	}
	return c
}

func (l *Lab) dynamic() (dynamic.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", l.adminKubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.Dial = l.api.DialContext
	cfg.Timeout = 10 * time.Second
	return dynamic.NewForConfig(cfg)
}

// CRDFile is the AddressPool CRD as `vipkeeper manifest crds` prints it,
// relative to the e2e package (where `go test` runs).
const CRDFile = "../manifests/crds.yaml"

// InstallCRDs creates the CRDs of file (CRDFile) and waits until the API
// server serves them.
func (l *Lab) InstallCRDs(file string) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.installCRDs(ctx, file); err != nil {
		l.t.Fatal(err)
	}
}

func (l *Lab) installCRDs(ctx context.Context, file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("%w (run `make manifests`)", err)
	}
	var obj map[string]any
	if err := yaml.Unmarshal(data, &obj); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	dc, err := l.dynamic()
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: obj}
	if _, err := dc.Resource(crdGVR).Create(ctx, u, metav1.CreateOptions{FieldValidation: "Strict"}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create CRD %s: %w", u.GetName(), err)
	}
	for {
		got, err := dc.Resource(crdGVR).Get(ctx, u.GetName(), metav1.GetOptions{})
		if err == nil && established(got) {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CRD %s not established: %v", u.GetName(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	// Established, but the resource may take a moment to be listed.
	for {
		_, err := dc.Resource(PoolGVR).List(ctx, metav1.ListOptions{})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("AddressPools not served: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// PoolRules is what services mode needs for AddressPool objects
// (--services-pool-objects): list and watch them, update their status,
// list and watch Nodes (nodeSelector). It mirrors pkg/manifest.PoolRules.
func PoolRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{"vipkeeper.io"}, Resources: []string{"addresspools"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"vipkeeper.io"}, Resources: []string{"addresspools/status"}, Verbs: []string{"update"}},
		{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"list", "watch"}},
	}
}

// poolsRBACName names the pool objects' ClusterRole and binding.
const poolsRBACName = servicesRBACName + "-pools"

// UsePoolObjects installs the CRD, grants the node group PoolRules and
// makes every daemon started from now on take its pools from the
// AddressPool objects (--services-pool-objects) instead of the lab's flag
// pools. Options.PoolObjects does the same at start-up.
func (l *Lab) UsePoolObjects() {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.enablePoolObjects(ctx); err != nil {
		l.t.Fatal(err)
	}
}

func (l *Lab) enablePoolObjects(ctx context.Context) error {
	if err := l.installCRDs(ctx, CRDFile); err != nil {
		return err
	}
	subjects := []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: NodeGroup}}
	cr := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: poolsRBACName}, Rules: PoolRules()}
	if _, err := l.admin.RbacV1().ClusterRoles().Create(ctx, cr, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create clusterrole: %w", err)
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: poolsRBACName},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: poolsRBACName},
		Subjects:   subjects,
	}
	if _, err := l.admin.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create clusterrolebinding: %w", err)
	}
	l.opts.PoolObjects = true
	return nil
}

func established(u *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// Pool is an AddressPool for CreatePool.
type Pool struct {
	Name       string
	Addresses  []string
	Namespaces []string
	AutoAssign *bool
	Extra      map[string]any // more spec fields, as written
}

func (p Pool) object() *unstructured.Unstructured {
	spec := map[string]any{}
	if p.Addresses != nil {
		spec["addresses"] = toAny(p.Addresses)
	}
	if p.Namespaces != nil {
		spec["namespaces"] = toAny(p.Namespaces)
	}
	if p.AutoAssign != nil {
		spec["autoAssign"] = *p.AutoAssign
	}
	for k, v := range p.Extra {
		spec[k] = v
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "vipkeeper.io/v1alpha1", "kind": "AddressPool",
		"metadata": map[string]any{"name": p.Name},
		"spec":     spec,
	}}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

// CreatePool creates an AddressPool and returns the API server's answer.
func (l *Lab) CreatePool(p Pool) error {
	ctx, cancel := apiCtx()
	defer cancel()
	_, err := l.Dynamic().Resource(PoolGVR).Create(ctx, p.object(), metav1.CreateOptions{FieldValidation: "Strict"})
	return err
}

// SetPoolAddresses replaces a pool's addresses.
func (l *Lab) SetPoolAddresses(name string, addrs []string) error {
	ctx, cancel := apiCtx()
	defer cancel()
	res := l.Dynamic().Resource(PoolGVR)
	u, err := res.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if err := unstructured.SetNestedStringSlice(u.Object, addrs, "spec", "addresses"); err != nil {
		return err
	}
	_, err = res.Update(ctx, u, metav1.UpdateOptions{})
	return err
}

// DeletePool deletes an AddressPool.
func (l *Lab) DeletePool(name string) error {
	ctx, cancel := apiCtx()
	defer cancel()
	err := l.Dynamic().Resource(PoolGVR).Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// PoolStatus is what the allocator wrote on a pool.
type PoolStatus struct {
	Valid, Reason, Message string
	Usage                  []map[string]any
}

// GetPoolStatus reads a pool's status.
func (l *Lab) GetPoolStatus(name string) (PoolStatus, error) {
	ctx, cancel := apiCtx()
	defer cancel()
	u, err := l.Dynamic().Resource(PoolGVR).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return PoolStatus{}, err
	}
	var st PoolStatus
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, _ := c.(map[string]any); m["type"] == "Valid" {
			st.Valid, st.Reason, st.Message = fmt.Sprint(m["status"]), fmt.Sprint(m["reason"]), fmt.Sprint(m["message"])
		}
	}
	usage, _, _ := unstructured.NestedSlice(u.Object, "status", "usage")
	for _, x := range usage {
		if m, ok := x.(map[string]any); ok {
			st.Usage = append(st.Usage, m)
		}
	}
	return st, nil
}

// VipkeeperCLI runs `vipkeeper ARGS --kubeconfig <admin>` from the
// client's namespace (an operator's machine) and returns its output.
func (l *Lab) VipkeeperCLI(args ...string) (string, error) {
	return l.client.Exec(l.vipkeeperBin, append(args, "--kubeconfig", l.adminKubeconfig)...)
}

// SetNodeLabels creates the Node object name with labels, or replaces its
// labels: the lab has no kubelet to create Nodes.
func (l *Lab) SetNodeLabels(name string, labels map[string]string) error {
	ctx, cancel := apiCtx()
	defer cancel()
	nodes := l.admin.CoreV1().Nodes()
	n, err := nodes.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	n.Labels = labels
	_, err = nodes.Update(ctx, n, metav1.UpdateOptions{})
	return err
}
