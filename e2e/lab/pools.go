package lab

import (
	"context"
	"fmt"
	"os"
	"time"

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
	cfg, err := clientcmd.BuildConfigFromFlags("", l.adminKubeconfig)
	if err != nil {
		l.t.Fatalf("Dynamic: %v", err)
	}
	cfg.Dial = l.api.DialContext
	cfg.Timeout = 10 * time.Second
	c, err := dynamic.NewForConfig(cfg)
	if err != nil {
		l.t.Fatalf("Dynamic: %v", err)
	}
	return c
}

// InstallCRDs creates the CRDs of file (manifests/crds.yaml, `vipkeeper
// manifest crds`) and waits until the API server serves them.
func (l *Lab) InstallCRDs(file string) {
	l.t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		l.t.Fatalf("%v (run `make manifests`)", err)
	}
	var obj map[string]any
	if err := yaml.Unmarshal(data, &obj); err != nil {
		l.t.Fatalf("%s: %v", file, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dc := l.Dynamic()
	u := &unstructured.Unstructured{Object: obj}
	if _, err := dc.Resource(crdGVR).Create(ctx, u, metav1.CreateOptions{FieldValidation: "Strict"}); err != nil {
		l.t.Fatalf("create CRD %s: %v", u.GetName(), err)
	}
	for {
		got, err := dc.Resource(crdGVR).Get(ctx, u.GetName(), metav1.GetOptions{})
		if err == nil && established(got) {
			break
		}
		select {
		case <-ctx.Done():
			l.t.Fatalf("CRD %s not established: %v", u.GetName(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	// Established, but the resource may take a moment to be listed.
	for {
		_, err := dc.Resource(PoolGVR).List(ctx, metav1.ListOptions{})
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			l.t.Fatalf("AddressPools not served: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
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
