package services

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vipkeeper/vipkeeper/pkg/services/ipam"
)

// Fakes and object builders shared by the decide tables, the
// controller tests and the every-order test.

const ns = "vipkeeper-system"

var testPools = []ipam.PoolSpec{{Name: "lab", Addresses: []string{"203.0.113.0/28", "2001:db8:1::/124"}}}

// The addresses the tests' Services hold (all in testPools).
const (
	addrA = "203.0.113.1"
	addrB = "203.0.113.2"
)

// fakeBinder records the Service VIPs a controller hands over, and every
// call; check, if set, vets each call as it is made.
type fakeBinder struct {
	mu    sync.Mutex
	set   []netip.Addr
	calls [][]netip.Addr
	check func(addrs []netip.Addr)
}

func (b *fakeBinder) SetServiceVIPs(_ context.Context, addrs []netip.Addr, _ time.Time) error {
	if b.check != nil {
		b.check(addrs)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.set = slices.Clone(addrs)
	b.calls = append(b.calls, b.set)
	return nil
}

func (b *fakeBinder) get() []netip.Addr {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.set)
}

func (b *fakeBinder) history() [][]netip.Addr {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.calls)
}

func (b *fakeBinder) has(addr string) bool {
	return slices.Contains(b.get(), netip.MustParseAddr(addr))
}

// stubLease is a node Lease that reports nothing by itself: the test
// delivers the election's events. It records the candidacy.
type stubLease struct {
	mu        sync.Mutex
	candidacy []bool
}

func (l *stubLease) Start(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

func (l *stubLease) SetCandidate(ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.candidacy = append(l.candidacy, ok)
}

// stubProber answers every probe with nobody.
type stubProber struct{}

func (stubProber) Probe(context.Context, []netip.Addr, time.Duration) ([]netip.Addr, error) {
	return nil, nil
}

// claimLease is the claim Lease of key naming holder ("" when released).
func claimLease(key, holder, rv string) *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Name: ClaimLeaseName(key), Namespace: ns, ResourceVersion: rv,
			Labels:      map[string]string{LabelRole: RoleClaim},
			Annotations: map[string]string{AnnotationClaimKey: key},
		},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder)},
	}
}

// nodeLeaseOf is node's Lease naming holder ("" when released).
func nodeLeaseOf(node, holder, rv string) *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Name: NodeLeasePrefix + node, Namespace: ns, ResourceVersion: rv,
			Labels: map[string]string{LabelRole: RoleNode},
		},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder)},
	}
}

type svcOpt func(*corev1.Service)

func lbService(name string, opts ...svcOpt) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: metav1.Now()},
		Spec: corev1.ServiceSpec{
			Type:              corev1.ServiceTypeLoadBalancer,
			LoadBalancerClass: ptr.To(Class),
			Ports:             []corev1.ServicePort{{Protocol: corev1.ProtocolTCP, Port: 80}},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func withClass(c *string) svcOpt { return func(s *corev1.Service) { s.Spec.LoadBalancerClass = c } }
func requesting(a string) svcOpt {
	return func(s *corev1.Service) { s.Annotations = map[string]string{ipam.AnnotationLoadBalancerIPs: a} }
}
func local() svcOpt {
	return func(s *corev1.Service) {
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		s.Spec.Selector = map[string]string{"app": s.Name}
	}
}

// withStatus gives the Service addrs as its ingress, as the allocator
// would have written them.
func withStatus(addrs ...string) svcOpt {
	return func(s *corev1.Service) {
		for _, a := range addrs {
			s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress,
				corev1.LoadBalancerIngress{IP: a, IPMode: ptr.To(corev1.LoadBalancerIPModeVIP)})
		}
	}
}

// endpointSlice is svc's one slice, with one endpoint on node.
func endpointSlice(svc, node string, ready bool) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: svc + "-x", Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.77"}, NodeName: ptr.To(node),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)}}},
	}
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}
