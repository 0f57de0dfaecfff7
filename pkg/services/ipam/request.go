package ipam

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Annotations on a Service that RequestForService reads.
const (
	// AnnotationLoadBalancerIPs requests addresses: a comma list, at most
	// one per family. It takes precedence over spec.loadBalancerIP.
	AnnotationLoadBalancerIPs = "vipkeeper.io/loadBalancerIPs"
	// AnnotationAllowSharedIP is the sharing key: Services with the same
	// key may hold the same address if their ports do not collide.
	AnnotationAllowSharedIP = "vipkeeper.io/allow-shared-ip"
	// AnnotationAddressPool restricts allocation to one named pool.
	AnnotationAddressPool = "vipkeeper.io/address-pool"
)

// Port is one port a Service exposes on its address.
type Port struct {
	Protocol corev1.Protocol // TCP, UDP or SCTP; "" means TCP
	Port     int32
}

func (p Port) String() string { return string(p.Protocol) + "/" + strconv.Itoa(int(p.Port)) }

func comparePort(a, b Port) int {
	return cmp.Or(cmp.Compare(a.Protocol, b.Protocol), cmp.Compare(a.Port, b.Port))
}

// Request asks for the addresses of one Service.
type Request struct {
	Key       string // "namespace/name"; identifies the holder
	Namespace string // decides which pools may be used
	Pool      string // if set, allocate from this pool only
	// Families are spec.ipFamilies, primary first. Empty: the families of
	// Addresses, or IPv4 if none are requested.
	Families []corev1.IPFamily
	// Policy is spec.ipFamilyPolicy; "" means SingleStack. SingleStack
	// uses the primary family only; PreferDualStack requires the primary
	// family and takes the other when a pool has one free;
	// RequireDualStack requires both, all or nothing.
	Policy corev1.IPFamilyPolicy
	// Addresses are the requested addresses, at most one per family.
	Addresses []netip.Addr
	Ports     []Port
	// SharingKey lets Services with the same key hold one address.
	SharingKey string
	// Placement must be equal among sharers, because one address is
	// announced from one node: RequestForService sets it from
	// externalTrafficPolicy and, for Local, the selector.
	Placement string
}

// ParseAddresses parses the vipkeeper.io/loadBalancerIPs annotation: a
// comma list of addresses, at most one per family. Blank input means no
// request. Errors are *AllocationError wrapping ErrInvalidRequest.
func ParseAddresses(s string) ([]netip.Addr, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var addrs []netip.Addr
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		a, err := netip.ParseAddr(item)
		switch {
		case item == "":
			return nil, invalid("empty item in address list %q", s)
		case err != nil:
			return nil, invalid("%q is not an IP address", item)
		case a.Zone() != "" || a.Is4In6():
			return nil, invalid("%q: zoned and IPv4-mapped addresses are not allowed", item)
		}
		if i := slices.IndexFunc(addrs, func(b netip.Addr) bool { return b.Is4() == a.Is4() }); i >= 0 {
			return nil, invalid("%s and %s are of the same family; request at most one address per family", addrs[i], a)
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}

func invalid(format string, args ...any) *AllocationError {
	return &AllocationError{Err: ErrInvalidRequest, Reason: fmt.Sprintf(format, args...)}
}

// RequestForService builds the Request for a LoadBalancer Service. It
// reads spec.ipFamilies, spec.ipFamilyPolicy, spec.ports,
// spec.loadBalancerIP, spec.externalTrafficPolicy, spec.selector and the
// vipkeeper.io annotations. Errors are *AllocationError wrapping
// ErrInvalidRequest, with a sentence naming the bad field.
func RequestForService(svc *corev1.Service) (Request, error) {
	key := svc.Namespace + "/" + svc.Name
	req := Request{
		Key:        key,
		Namespace:  svc.Namespace,
		Pool:       strings.TrimSpace(svc.Annotations[AnnotationAddressPool]),
		Families:   slices.Clone(svc.Spec.IPFamilies),
		SharingKey: strings.TrimSpace(svc.Annotations[AnnotationAllowSharedIP]),
	}
	if svc.Spec.IPFamilyPolicy != nil {
		req.Policy = *svc.Spec.IPFamilyPolicy
	}
	var err error
	if v := svc.Annotations[AnnotationLoadBalancerIPs]; strings.TrimSpace(v) != "" {
		if req.Addresses, err = ParseAddresses(v); err != nil {
			return Request{}, invalid("annotation %s: %v", AnnotationLoadBalancerIPs, err)
		}
	} else if v := strings.TrimSpace(svc.Spec.LoadBalancerIP); v != "" {
		if req.Addresses, err = ParseAddresses(v); err != nil {
			return Request{}, invalid("spec.loadBalancerIP: %v", err)
		}
	}
	for _, p := range svc.Spec.Ports {
		req.Ports = append(req.Ports, Port{Protocol: p.Protocol, Port: p.Port})
	}
	if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
		// Local traffic is served by the nodes with endpoints, which follow
		// the selector. Without a selector the endpoints are the Service's
		// own, so it can share with nobody.
		req.Placement = "local-service:" + key
		if len(svc.Spec.Selector) > 0 {
			req.Placement = "local:" + labels.Set(svc.Spec.Selector).String()
		}
	}
	return req, nil
}

// want is one family the allocator must or may fill.
type want struct {
	v4       bool
	required bool
	addr     netip.Addr // requested, or invalid
}

func family(v4 bool) corev1.IPFamily {
	if v4 {
		return corev1.IPv4Protocol
	}
	return corev1.IPv6Protocol
}

// wants turns the family fields of req into the families to fill, primary
// first.
func wants(req Request) ([]want, error) {
	var fams []bool // true: IPv4
	for _, f := range req.Families {
		v4 := f == corev1.IPv4Protocol
		if !v4 && f != corev1.IPv6Protocol {
			return nil, invalid("unknown IP family %q", f)
		}
		if slices.Contains(fams, v4) {
			return nil, invalid("IP family %s listed twice", f)
		}
		fams = append(fams, v4)
	}
	if len(fams) == 0 {
		for _, a := range req.Addresses {
			if !slices.Contains(fams, a.Is4()) {
				fams = append(fams, a.Is4())
			}
		}
	}
	if len(fams) == 0 {
		fams = []bool{true}
	}
	optional := false
	switch req.Policy {
	case "", corev1.IPFamilyPolicySingleStack:
		fams = fams[:1]
	case corev1.IPFamilyPolicyPreferDualStack:
		optional = true
	case corev1.IPFamilyPolicyRequireDualStack:
		if len(fams) != 2 {
			return nil, invalid("ipFamilyPolicy RequireDualStack needs two ipFamilies, got %v", req.Families)
		}
	default:
		return nil, invalid("unknown ipFamilyPolicy %q", req.Policy)
	}
	ws := make([]want, len(fams))
	for i, v4 := range fams {
		ws[i] = want{v4: v4, required: i == 0 || !optional}
	}
	for _, a := range req.Addresses {
		if !a.IsValid() || a.Zone() != "" || a.Is4In6() {
			return nil, invalid("requested address %q is not a plain IP address", a)
		}
		i := slices.IndexFunc(ws, func(w want) bool { return w.v4 == a.Is4() })
		switch {
		case i < 0:
			return nil, invalid("requested address %s is %s, but the Service uses %s only", a, family(a.Is4()), family(ws[0].v4))
		case ws[i].addr.IsValid():
			return nil, invalid("%s and %s are of the same family; request at most one address per family", ws[i].addr, a)
		}
		ws[i].addr = a
	}
	return ws, nil
}

// normalize validates the holder fields of req.
func normalize(req Request) (*entry, error) {
	if req.Key == "" || req.Namespace == "" {
		return nil, invalid("request has no Service key or namespace")
	}
	e := &entry{key: req.Key, namespace: req.Namespace, sharing: req.SharingKey, placement: req.Placement}
	for _, p := range req.Ports {
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		switch {
		case p.Protocol != corev1.ProtocolTCP && p.Protocol != corev1.ProtocolUDP && p.Protocol != corev1.ProtocolSCTP:
			return nil, invalid("port %s: unknown protocol", p)
		case p.Port < 1 || p.Port > 65535:
			return nil, invalid("port %s is out of range", p)
		}
		e.ports = append(e.ports, p)
	}
	slices.SortFunc(e.ports, comparePort)
	e.ports = slices.Compact(e.ports)
	return e, nil
}
