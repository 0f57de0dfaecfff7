package services

import (
	"strconv"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// newClient is a fake clientset whose writes stamp a resourceVersion on
// the objects they store, as an API server does. client-go's fake tracker
// leaves it empty, and the loop relies on it: a status write remembers the
// version it produced and ignores cached copies older than that. Without
// versions a loop that passes again before its informer has seen its own
// write sends the same patch again, and again, until the informer catches
// up — each one a watch event more, until the fake watcher's buffer of 100
// overflows ("channel full").
func newClient(objs ...runtime.Object) *fake.Clientset {
	c := fake.NewSimpleClientset(objs...)
	c.PrependReactor("*", "*", k8stesting.ObjectReaction(&stamping{ObjectTracker: c.Tracker()}))
	return c
}

// stamping is an ObjectTracker that gives every object it stores the next
// resourceVersion.
type stamping struct {
	k8stesting.ObjectTracker
	rv atomic.Uint64
}

func (s *stamping) stamp(obj runtime.Object) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetResourceVersion(strconv.FormatUint(s.rv.Add(1), 10))
	}
}

func (s *stamping) Create(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.CreateOptions) error {
	s.stamp(obj)
	return s.ObjectTracker.Create(gvr, obj, ns, opts...)
}

func (s *stamping) Update(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.UpdateOptions) error {
	s.stamp(obj)
	return s.ObjectTracker.Update(gvr, obj, ns, opts...)
}

func (s *stamping) Patch(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.PatchOptions) error {
	s.stamp(obj)
	return s.ObjectTracker.Patch(gvr, obj, ns, opts...)
}
