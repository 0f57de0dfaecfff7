package ipam

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParseAddresses(t *testing.T) {
	tests := []struct {
		in      string
		want    []netip.Addr
		wantErr string
	}{
		{in: "", want: nil},
		{in: "  ", want: nil},
		{in: "192.0.2.1", want: []netip.Addr{mustAddr("192.0.2.1")}},
		{in: " 2001:db8::1 , 192.0.2.1 ", want: []netip.Addr{mustAddr("2001:db8::1"), mustAddr("192.0.2.1")}},
		{in: "192.0.2.1,192.0.2.2", wantErr: "192.0.2.1 and 192.0.2.2 are of the same family; request at most one address per family"},
		{in: "192.0.2.1,", wantErr: `empty item in address list "192.0.2.1,"`},
		{in: "192.0.2", wantErr: `"192.0.2" is not an IP address`},
		{in: "192.0.2.0/24", wantErr: `"192.0.2.0/24" is not an IP address`},
		{in: "fe80::1%eth0", wantErr: `"fe80::1%eth0": zoned and IPv4-mapped addresses are not allowed`},
		{in: "::ffff:192.0.2.1", wantErr: `"::ffff:192.0.2.1": zoned and IPv4-mapped addresses are not allowed`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseAddresses(tc.in)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr || !errors.Is(err, ErrInvalidRequest) {
					t.Fatalf("ParseAddresses(%q) = %v, %v; want %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpNet); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequestForService(t *testing.T) {
	prefer := corev1.IPFamilyPolicyPreferDualStack
	base := func(mod func(*corev1.Service)) *corev1.Service {
		s := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
			Spec: corev1.ServiceSpec{
				Type:       corev1.ServiceTypeLoadBalancer,
				IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
				Ports:      []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}, {Port: 53, Protocol: corev1.ProtocolUDP}},
				Selector:   map[string]string{"app": "web", "tier": "front"},
			},
		}
		if mod != nil {
			mod(s)
		}
		return s
	}
	plain := Request{Key: "shop/web", Namespace: "shop", Families: []corev1.IPFamily{"IPv4"}, Ports: []Port{{"TCP", 80}, {"UDP", 53}}}
	with := func(mod func(*Request)) Request {
		r := plain
		mod(&r)
		return r
	}
	tests := []struct {
		name    string
		svc     *corev1.Service
		want    Request
		wantErr string
	}{
		{name: "plain", svc: base(nil), want: plain},
		{
			name: "annotations win over spec.loadBalancerIP",
			svc: base(func(s *corev1.Service) {
				s.Annotations = map[string]string{AnnotationLoadBalancerIPs: "192.0.2.9, 2001:db8::9", AnnotationAllowSharedIP: "k",
					AnnotationAddressPool: "blue"}
				s.Spec.LoadBalancerIP = "192.0.2.1"
				s.Spec.IPFamilies = []corev1.IPFamily{"IPv4", "IPv6"}
				s.Spec.IPFamilyPolicy = &prefer
			}),
			want: with(func(r *Request) {
				r.Addresses = []netip.Addr{mustAddr("192.0.2.9"), mustAddr("2001:db8::9")}
				r.SharingKey, r.Pool = "k", "blue"
				r.Families, r.Policy = []corev1.IPFamily{"IPv4", "IPv6"}, prefer
			}),
		},
		{
			name: "spec.loadBalancerIP",
			svc:  base(func(s *corev1.Service) { s.Spec.LoadBalancerIP = "192.0.2.1" }),
			want: with(func(r *Request) { r.Addresses = []netip.Addr{mustAddr("192.0.2.1")} }),
		},
		{
			name: "local traffic policy places by selector",
			svc:  base(func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal }),
			want: with(func(r *Request) { r.Placement = "local:app=web,tier=front" }),
		},
		{
			name: "local without selector shares with nobody",
			svc: base(func(s *corev1.Service) {
				s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
				s.Spec.Selector = nil
			}),
			want: with(func(r *Request) { r.Placement = "local-service:shop/web" }),
		},
		{
			name:    "bad annotation",
			svc:     base(func(s *corev1.Service) { s.Annotations = map[string]string{AnnotationLoadBalancerIPs: "192.0.2.300"} }),
			wantErr: `annotation vipkeeper.io/loadBalancerIPs: "192.0.2.300" is not an IP address`,
		},
		{
			name:    "bad spec.loadBalancerIP",
			svc:     base(func(s *corev1.Service) { s.Spec.LoadBalancerIP = "web" }),
			wantErr: `spec.loadBalancerIP: "web" is not an IP address`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RequestForService(tc.svc)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr || !errors.Is(err, ErrInvalidRequest) {
					t.Fatalf("RequestForService = %v; want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpNet); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
