package services

import (
	"encoding/json"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/vipkeeper/vipkeeper/pkg/services/ipam"
)

// TestTrimKeepsWhatTheControllerReads: the request built from a trimmed
// Service is the request built from the whole one.
func TestTrimKeepsWhatTheControllerReads(t *testing.T) {
	full := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", ResourceVersion: "42",
			Labels: map[string]string{"app": "web"},
			Annotations: map[string]string{
				ipam.AnnotationLoadBalancerIPs:     "203.0.113.7",
				ipam.AnnotationAllowSharedIP:       "k",
				corev1.LastAppliedConfigAnnotation: `{"big":"blob"}`,
			},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: ptr.To(Class),
			ClusterIP: "198.51.100.10", ClusterIPs: []string{"198.51.100.10"},
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol}, IPFamilyPolicy: ptr.To(corev1.IPFamilyPolicySingleStack),
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80,
				TargetPort: intstr.FromInt32(8080), NodePort: 30080}},
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
			Selector:              map[string]string{"app": "web"},
		},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "203.0.113.7"}}}},
	}
	want, err := ipam.RequestForService(full)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := trim(full.DeepCopy())
	got := o.(*corev1.Service)
	req, err := ipam.RequestForService(got)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, req, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("request changed by trimming (-full +trimmed):\n%s", diff)
	}
	if got.Annotations[corev1.LastAppliedConfigAnnotation] != "" || got.ManagedFields != nil || got.Spec.ClusterIP != "" {
		t.Errorf("not trimmed: %+v", got.ObjectMeta)
	}
	if !slices.Equal(ingressAddrs(got), ingressAddrs(full)) || got.ResourceVersion != "42" {
		t.Error("status or resourceVersion lost")
	}
}

func TestTrimEndpointSlice(t *testing.T) {
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "web-x", Namespace: "shop", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.77"}, NodeName: ptr.To("n2"),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true)}, Hostname: ptr.To("h")}},
	}
	o, _ := trim(es)
	got := o.(*discoveryv1.EndpointSlice)
	if keys, _ := sliceService(got); !cmp.Equal(keys, []string{"shop/web"}) {
		t.Errorf("index keys %v", keys)
	}
	want := []discoveryv1.Endpoint{{NodeName: ptr.To("n2"), Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}}
	if diff := cmp.Diff(want, got.Endpoints); diff != "" {
		t.Errorf("endpoints (-want +got):\n%s", diff)
	}
}

// TestStatusPatch pins the patch's shape: conditional on the version
// read, and an empty list (not null) to clear.
func TestStatusPatch(t *testing.T) {
	var p statusPatch
	p.Metadata.ResourceVersion = "42"
	p.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.7", IPMode: ptr.To(corev1.LoadBalancerIPModeVIP)}}
	b, _ := json.Marshal(p)
	if want := `{"metadata":{"resourceVersion":"42"},"status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.7","ipMode":"VIP"}]}}}`; string(b) != want {
		t.Errorf("patch\n got %s\nwant %s", b, want)
	}
}
