package lab

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
)

// The services-mode contract (docs/services.md) as the tests see it.
const (
	// LBClass is the spec.loadBalancerClass vipkeeper handles.
	LBClass = "vipkeeper.io/lb"
	// AnnotationLoadBalancerIPs requests addresses (comma list).
	AnnotationLoadBalancerIPs = "vipkeeper.io/loadBalancerIPs"
	// AnnotationAddressPool asks for one pool.
	AnnotationAddressPool = "vipkeeper.io/address-pool"
	// RoleLabel marks vipkeeper's Leases: RoleNode or RoleClaim.
	RoleLabel = "vipkeeper.io/role"
	RoleNode  = "node"
	RoleClaim = "claim"
	// NodeLeasePrefix + node name is a node's Lease.
	NodeLeasePrefix = "vipkeeper-node-"
	// ClaimLeasePrefix + the address in hex is an address's claim Lease.
	ClaimLeasePrefix = "vipkeeper-claim-"
	// AllocatorLease is the claim of the one node that allocates and writes
	// statuses.
	AllocatorLease = "vipkeeper-services-allocator"
	// ReasonAllocationFailed is the Warning Event of an unmet request.
	ReasonAllocationFailed = "AllocationFailed"
	// NoClass, as ServiceSpec.Class, leaves spec.loadBalancerClass unset.
	NoClass = "-"
	// ServiceNamespace is where ServiceSpec puts a Service by default; the
	// API server creates it at start.
	ServiceNamespace = "default"
)

// ServiceSpec describes a LoadBalancer Service for NewService.
type ServiceSpec struct {
	Namespace string // default ServiceNamespace
	Name      string
	Class     string // spec.loadBalancerClass; default LBClass, NoClass for none
	// Local sets externalTrafficPolicy: Local (default Cluster).
	Local bool
	// Requested go into the AnnotationLoadBalancerIPs annotation.
	Requested []netip.Addr
	// IPv6 makes the Service IPv6 single-stack; default IPv4 single-stack
	// (the API server's primary family).
	IPv6 bool
	// DualStack makes it RequireDualStack, IPv4 first.
	DualStack bool
	// Pool goes into the AnnotationAddressPool annotation.
	Pool string
}

// NewService builds the Service s describes: type LoadBalancer, one TCP
// port (the HTTP helpers' DefaultPort) and no node ports (there is no
// kube-proxy in the lab, and 1,000 Services would take 1,000 of them).
func NewService(s ServiceSpec) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: s.Name},
		Spec: corev1.ServiceSpec{
			Type:                          corev1.ServiceTypeLoadBalancer,
			Ports:                         []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: DefaultPort}},
			Selector:                      map[string]string{"app": s.Name},
			AllocateLoadBalancerNodePorts: ptr(false),
			ExternalTrafficPolicy:         corev1.ServiceExternalTrafficPolicyCluster,
		},
	}
	if svc.Namespace == "" {
		svc.Namespace = ServiceNamespace
	}
	switch s.Class {
	case "":
		svc.Spec.LoadBalancerClass = ptr(LBClass)
	case NoClass:
	default:
		svc.Spec.LoadBalancerClass = ptr(s.Class)
	}
	if s.Local {
		svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}
	if len(s.Requested) > 0 {
		ips := make([]string, len(s.Requested))
		for i, a := range s.Requested {
			ips[i] = a.String()
		}
		svc.Annotations = map[string]string{AnnotationLoadBalancerIPs: strings.Join(ips, ",")}
	}
	if s.Pool != "" {
		if svc.Annotations == nil {
			svc.Annotations = map[string]string{}
		}
		svc.Annotations[AnnotationAddressPool] = s.Pool
	}
	if s.IPv6 {
		svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol}
		svc.Spec.IPFamilyPolicy = ptr(corev1.IPFamilyPolicySingleStack)
	}
	if s.DualStack {
		svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
		svc.Spec.IPFamilyPolicy = ptr(corev1.IPFamilyPolicyRequireDualStack)
	}
	return svc
}

func ptr[T any](v T) *T { return &v }

// apiTimeout bounds one API call of the helpers below.
const apiTimeout = 10 * time.Second

func apiCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), apiTimeout)
}

// CreateService creates the Service s describes, as admin.
func (l *Lab) CreateService(s ServiceSpec) *corev1.Service {
	l.t.Helper()
	ctx, cancel := apiCtx()
	defer cancel()
	svc := NewService(s)
	got, err := l.admin.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		l.t.Fatalf("create Service %s/%s: %v", svc.Namespace, svc.Name, err)
	}
	return got
}

// DeleteService deletes a Service (namespace "" means ServiceNamespace).
func (l *Lab) DeleteService(namespace, name string) {
	l.t.Helper()
	ctx, cancel := apiCtx()
	defer cancel()
	if namespace == "" {
		namespace = ServiceNamespace
	}
	if err := l.admin.CoreV1().Services(namespace).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		l.t.Fatalf("delete Service %s/%s: %v", namespace, name, err)
	}
}

// GetService reads a Service (namespace "" means ServiceNamespace).
func (l *Lab) GetService(namespace, name string) (*corev1.Service, error) {
	ctx, cancel := apiCtx()
	defer cancel()
	if namespace == "" {
		namespace = ServiceNamespace
	}
	return l.admin.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
}

// IngressAddrs are the addresses in a Service's status.loadBalancer.ingress
// (entries without a parsable ip are skipped).
func IngressAddrs(svc *corev1.Service) []netip.Addr {
	var out []netip.Addr
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if a, err := netip.ParseAddr(in.IP); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// WaitIngress waits until a Service's status lists at least one ingress
// address, and returns the Service as read then. It fails the test after
// timeout.
func (l *Lab) WaitIngress(namespace, name string, timeout time.Duration) *corev1.Service {
	l.t.Helper()
	var svc *corev1.Service
	var err error
	if !WaitFor(timeout, func() bool {
		svc, err = l.GetService(namespace, name)
		return err == nil && len(IngressAddrs(svc)) > 0
	}) {
		status := "<none>"
		if svc != nil {
			status = fmt.Sprintf("%+v", svc.Status.LoadBalancer)
		}
		l.t.Fatalf("Service %s/%s: no ingress address after %v (last read: %v, status %s)", namespace, name, timeout, err, status)
	}
	return svc
}

// ServiceEvents are vipkeeper's Events about a Service (namespace "" means
// ServiceNamespace), oldest first as the API server lists them.
func (l *Lab) ServiceEvents(namespace, name string) ([]corev1.Event, error) {
	ctx, cancel := apiCtx()
	defer cancel()
	if namespace == "" {
		namespace = ServiceNamespace
	}
	sel := fields.AndSelectors(fields.OneTermEqualSelector("involvedObject.kind", "Service"),
		fields.OneTermEqualSelector("involvedObject.name", name)).String()
	list, err := l.admin.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return nil, err
	}
	// Only vipkeeper's: the API server's repair loops write Events on
	// Services too (ClusterIPNotAllocated, when its allocator repair
	// races a create on a loaded machine), and no test is about those.
	return slices.DeleteFunc(list.Items, func(e corev1.Event) bool { return e.Source.Component != "vipkeeper" }), nil
}

// Endpoint is one endpoint of SetEndpoints: on node Node, ready or not.
type Endpoint struct {
	Node  string
	Ready bool
}

// SetEndpoints creates or replaces the one EndpointSlice the lab keeps for
// a Service (named <service>-lab, labelled kubernetes.io/service-name), as
// the EndpointSlice controller would — the lab runs no
// kube-controller-manager. Endpoint k gets the address 203.0.113.(10+k):
// documentation, and routed nowhere (only nodeName and readiness matter to
// vipkeeper); at most maxEndpoints, so they stay below 203.0.113.128/25,
// the second segment's (link2.go).
func (l *Lab) SetEndpoints(namespace, service string, eps ...Endpoint) {
	l.t.Helper()
	if namespace == "" {
		namespace = ServiceNamespace
	}
	if len(eps) > maxEndpoints {
		l.t.Fatalf("SetEndpoints: %d endpoints; at most %d", len(eps), maxEndpoints)
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: service + "-lab", Namespace: namespace,
			Labels: map[string]string{discoveryv1.LabelServiceName: service, discoveryv1.LabelManagedBy: "vipkeeper-lab"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Protocol: ptr(corev1.ProtocolTCP), Port: ptr(int32(DefaultPort))}},
	}
	for k, ep := range eps {
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{"203.0.113." + strconv.Itoa(10+k)},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr(ep.Ready), Serving: ptr(ep.Ready), Terminating: ptr(false)},
			NodeName:   ptr(ep.Node),
		})
	}
	ctx, cancel := apiCtx()
	defer cancel()
	slices := l.admin.DiscoveryV1().EndpointSlices(namespace)
	cur, err := slices.Get(ctx, slice.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = slices.Create(ctx, slice, metav1.CreateOptions{})
	case err == nil:
		slice.ResourceVersion = cur.ResourceVersion
		_, err = slices.Update(ctx, slice, metav1.UpdateOptions{})
	}
	if err != nil {
		l.t.Fatalf("SetEndpoints(%s/%s): %v", namespace, service, err)
	}
}

// maxEndpoints keeps SetEndpoints' addresses within 203.0.113.10–.127.
const maxEndpoints = 118

// ClaimLeaseName is the name of addr's claim Lease: ClaimLeasePrefix and
// the address's bytes in hex (4 for IPv4, 16 for IPv6).
func ClaimLeaseName(addr netip.Addr) string {
	return ClaimLeasePrefix + hex.EncodeToString(addr.Unmap().AsSlice())
}

// Leases returns vipkeeper's Leases of one role (RoleNode, RoleClaim) in
// the services namespace: name → holderIdentity ("" if none).
func (l *Lab) Leases(role string) (map[string]string, error) {
	return l.LeasesIn(l.ServicesNamespace(), role)
}

// ServicesNamespace is where the daemons keep their node and claim Leases:
// Options.ServicesNamespace, or the lease namespace.
func (l *Lab) ServicesNamespace() string {
	if l.opts.ServicesNamespace != "" {
		return l.opts.ServicesNamespace
	}
	return l.opts.LeaseNamespace
}

// LeasesIn is Leases in namespace ns.
func (l *Lab) LeasesIn(ns, role string) (map[string]string, error) {
	ctx, cancel := apiCtx()
	defer cancel()
	sel := labels.SelectorFromSet(labels.Set{RoleLabel: role}).String()
	list, err := l.admin.CoordinationV1().Leases(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(list.Items))
	for _, lease := range list.Items {
		holder := ""
		if lease.Spec.HolderIdentity != nil {
			holder = *lease.Spec.HolderIdentity
		}
		out[lease.Name] = holder
	}
	return out, nil
}

// Mem is a process's memory as /proc/<pid>/status reports it, in bytes.
type Mem struct {
	RSS     int64 // VmRSS: resident, = RssAnon + RssFile + RssShmem
	Anon    int64 // RssAnon: heap, stacks — what the process allocated
	File    int64 // RssFile: mapped files, mostly the binary's own pages
	PeakRSS int64 // VmHWM: the largest VmRSS so far
}

// DaemonMem is the memory of node i's current daemon. `ip netns exec`
// execs in place, so the lab's PID is the daemon's.
func (l *Lab) DaemonMem(i int) (Mem, error) {
	pid := l.NodePID(i)
	if pid == 0 || !l.NodeAlive(i) {
		return Mem{}, fmt.Errorf("no daemon runs on %s", l.NodeName(i))
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Mem{}, err
	}
	return parseMem(string(b))
}

// DaemonCPU is the CPU time (user + system) node i's current daemon has
// used so far, from /proc/<pid>/stat.
func (l *Lab) DaemonCPU(i int) (time.Duration, error) {
	pid := l.NodePID(i)
	if pid == 0 || !l.NodeAlive(i) {
		return 0, fmt.Errorf("no daemon runs on %s", l.NodeName(i))
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseCPU(string(b))
}

// clockTick is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture the lab runs on.
const clockTick = 10 * time.Millisecond

// parseCPU reads utime + stime (fields 14 and 15) from /proc/<pid>/stat.
func parseCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')') // the command name may contain spaces
	if i < 0 {
		return 0, fmt.Errorf("no command name in %q", stat)
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3
	if len(f) < 13 {
		return 0, fmt.Errorf("short stat line %q", stat)
	}
	var ticks int64
	for _, field := range f[11:13] {
		n, err := strconv.ParseInt(field, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad CPU field %q", field)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// parseMem reads the fields of Mem from /proc/<pid>/status.
func parseMem(status string) (Mem, error) {
	var m Mem
	fields := map[string]*int64{"VmRSS:": &m.RSS, "RssAnon:": &m.Anon, "RssFile:": &m.File, "VmHWM:": &m.PeakRSS}
	found := 0
	for line := range strings.Lines(status) {
		f := strings.Fields(line) // "VmRSS:   12345 kB"
		if len(f) != 3 || f[2] != "kB" || fields[f[0]] == nil {
			continue
		}
		kb, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return Mem{}, fmt.Errorf("%s %w", f[0], err)
		}
		*fields[f[0]] = kb << 10
		found++
	}
	if found != len(fields) {
		return m, fmt.Errorf("status lacks some of VmRSS, RssAnon, RssFile, VmHWM")
	}
	return m, nil
}

// ServedBy asks addr (port Port) from the client namespace who serves it,
// on a fresh connection.
func (l *Lab) ServedBy(addr netip.Addr, timeout time.Duration) (string, error) {
	return l.get(context.Background(), l.Target(addr), timeout)
}
