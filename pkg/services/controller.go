package services

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/vipkeeper/vipkeeper/pkg/services/ipam"
	"github.com/vipkeeper/vipkeeper/pkg/tenure"
)

// Names and labels the controller reads and writes.
const (
	// Class is the spec.loadBalancerClass of the Services we serve.
	Class = "vipkeeper.io/lb"
	// LabelRole marks our Leases: RoleNode or RoleClaim.
	LabelRole = "vipkeeper.io/role"
	RoleNode  = "node"
	RoleClaim = "claim"
	// AnnotationClaimKey names what a claim Lease is for: an address, or
	// AllocatorKey.
	AnnotationClaimKey = "vipkeeper.io/claim-key"
	// AllocatorKey is the claim key of the allocator role: its holder
	// allocates addresses and writes the Services' statuses.
	AllocatorKey = "allocator"
	// NodeLeasePrefix + node name is a node's Lease.
	NodeLeasePrefix = "vipkeeper-node-"
	// ClaimLeasePrefix + the address's bytes in hex is an address's claim.
	ClaimLeasePrefix = "vipkeeper-claim-"
	// AllocatorLease is the allocator role's claim.
	AllocatorLease = "vipkeeper-services-allocator"

	// ReasonAllocationFailed is the reason of the Warning Event on a
	// Service whose request cannot be met. Success needs no Event: the
	// status says it, and creating a Service costs two writes, not three.
	ReasonAllocationFailed = "AllocationFailed"
	// ReasonAddressExcluded is the reason of the Warning Event on a
	// Service that holds an address the allocator would not hand out now
	// (an address of the allocator's node, a subnet's network or
	// broadcast address); the Service keeps it.
	ReasonAddressExcluded = "AddressExcluded"
)

// Config is the services controller's part of the node's configuration.
type Config struct {
	Node      string // this node's name: its identity in every Lease
	Namespace string // where the node and claim Leases live
	// DefaultClass also serves LoadBalancer Services without a class.
	DefaultClass bool
	// Pools are the flag pools; PoolObjects reads them from the
	// AddressPool objects instead (Pools then empty), live.
	Pools       []ipam.PoolSpec
	PoolObjects bool
	// Exclusions are addresses inside the pools that the allocator never
	// hands out (ipam.HostExclusions: this node's own addresses, its
	// subnets' network and broadcast addresses); a Warning names each.
	Exclusions []ipam.Exclusion
	// LeaseDuration, RenewDeadline, RetryPeriod and SafetyMargin are the
	// node Lease's timings, the same as the control-plane Lease's
	// (docs/safety.md).
	LeaseDuration, RenewDeadline, RetryPeriod, SafetyMargin time.Duration
	// Hold keeps the node's Service VIPs while the API server is
	// unreachable (--api-outage hold), until another node claims one on
	// the wire.
	Hold bool
	// ProbeWait is one pre-bind probe round; ProbeBudget bounds all rounds
	// of one address (then it is bound anyway). ProbeWait 0 disables.
	ProbeWait, ProbeBudget time.Duration
	// Lateness is how late the kernel may remove an expired address
	// (vip.Config.Lateness); it paces the refreshes of a ride.
	Lateness time.Duration
	// WitnessWindow is how recently a peer must have been heard on the
	// VIP's link for a ride to go on past the deadline (Inbox.Witness);
	// zero needs no witness.
	WitnessWindow time.Duration
	// Healthy is the node's health before the first report.
	Healthy bool
	// Writers bounds concurrent API writes; 0 means 16.
	Writers int
}

// binder takes the Service VIPs this node may bind (the keeper, which
// owns the one binder); it returns once they are applied.
type binder interface {
	// until is the addresses' deadline (tenure.Lifetime on the node
	// Lease): the kernel drops them by then unless a later call moves it.
	SetServiceVIPs(ctx context.Context, addrs []netip.Addr, until time.Time) error
}

// prober asks the wire whether another host still answers for addrs
// (pkg/guard); it returns the addresses that were answered.
type prober interface {
	Probe(ctx context.Context, addrs []netip.Addr, wait time.Duration) ([]netip.Addr, error)
}

// nodeLease is this node's own Lease (pkg/election on vipkeeper-node-<node>),
// held for as long as the node is a healthy candidate.
type nodeLease interface {
	Start(ctx context.Context) error
	SetCandidate(bool)
}

// Deps are the controller's collaborators. Prober may be nil.
type Deps struct {
	// Client writes statuses, claims and Events; Informers lists and
	// watches (no request timeout).
	Client, Informers kubernetes.Interface
	Binder            binder
	Prober            prober
	NodeLease         nodeLease
	// Events, if not nil, sends the Events of announcer changes
	// (announce.go), on connections and a rate limit apart from Client's
	// so that they never delay a claim write; nil means Client.
	Events kubernetes.Interface
	// PoolWrites writes AddressPool statuses, PoolInformers lists and
	// watches them; only with Config.PoolObjects.
	PoolWrites, PoolInformers dynamic.Interface
	// Observer, if not nil, is told what the controller holds.
	Observer Observer
	// Links, if not nil, carries the addresses of pools that name an
	// interface (pkg/links); without it every address is on the
	// default interface.
	Links links
}

// Observer is told the controller's figures after every pass (metrics).
type Observer interface {
	ServiceVIPs(bound, claimed, addresses int, allocator bool)
	// SetPoolUsage reports the pools' usage while this node is the
	// allocator, and nil once it is not.
	SetPoolUsage([]ipam.PoolUsage)
	// PoolsDiffer reports whether this node's flag pools differ from the
	// allocator node's.
	PoolsDiffer(bool)
}

// Controller serves LoadBalancer Services of our class: the allocator
// node writes their statuses, every node claims the addresses it should
// announce and hands the ones it may bind to the binder. One loop (Start)
// owns its state; informers, the node Lease, writes and probes reach it as
// events.
type Controller struct {
	*Inbox // the loop's inputs; closed when Start returns

	cfg  Config
	deps Deps
	log  *slog.Logger
	now  func() time.Time

	wake chan struct{} // a Service or EndpointSlice changed; capacity 1
	// pools checks addresses against the pools (InPool), poolSpecs are
	// the pools the allocator is built from; with pool objects both
	// change when the objects do (reloadPools, on the loop).
	pools     *ipam.Allocator
	poolSpecs []ipam.PoolSpec
	// poolSelectors: the node selectors of the pools that have one
	// (placement.go).
	poolSelectors map[string]labels.Selector
	poolPreferred map[string][]string // the preferred nodes of the pools that name some
	// poolIfaces: the interfaces of the pools that name one, and the
	// list of them (ifaces.go).
	poolIfaces    map[string]string
	poolIfaceList []string
	// transform runs on every object the informers store (trim); tests
	// whose fake API shares objects between watchers copy first.
	transform func(any) (any, error)

	// Set by Start before the loop runs.
	services  cache.Indexer
	slices    cache.Indexer
	poolObjs  cache.Indexer // the AddressPools; nil without Config.PoolObjects
	nodes     cache.Indexer // the Nodes, names and labels; nil without Config.PoolObjects
	recorder  record.EventRecorder
	announcer record.EventRecorder // announce.go: on Deps.Events
	writeSlot chan struct{}
	writes    *sync.WaitGroup // writes and probes in flight
	sets      []*informerSet  // every informer set started; the loop's

	st state // owned by the loop
}

// New returns a Controller reading in (a new Inbox if nil); it starts
// nothing.
func New(cfg Config, deps Deps, in *Inbox, log *slog.Logger) (*Controller, error) {
	if cfg.Node == "" || cfg.Namespace == "" {
		return nil, errors.New("services: node name and namespace are required")
	}
	var pools *ipam.Allocator
	switch {
	case cfg.PoolObjects && len(cfg.Pools) > 0:
		return nil, errors.New("services: flag pools and pool objects cannot be mixed")
	case cfg.PoolObjects && (deps.PoolInformers == nil || deps.PoolWrites == nil):
		return nil, errors.New("services: pool objects need the pool clients")
	case cfg.PoolObjects:
		pools = ipam.None() // until the first list of AddressPools
	case len(cfg.Pools) == 0:
		return nil, errors.New("services: at least one address pool is required")
	default:
		var err error
		if pools, err = ipam.New(cfg.Pools, cfg.Exclusions...); err != nil {
			return nil, fmt.Errorf("services: %w", err)
		}
	}
	if cfg.Writers <= 0 {
		cfg.Writers = 16
	}
	if in == nil {
		in = NewInbox()
	}
	c := &Controller{
		Inbox:     in,
		cfg:       cfg,
		deps:      deps,
		log:       log.With("component", "services"),
		now:       time.Now,
		wake:      make(chan struct{}, 1),
		writeSlot: make(chan struct{}, cfg.Writers),
		pools:     pools,
		poolSpecs: cfg.Pools,
		transform: trim,
	}
	c.st = newState(tenure.Config{
		LeaseDuration: cfg.LeaseDuration,
		SafetyMargin:  cfg.SafetyMargin,
		RenewDeadline: cfg.RenewDeadline,
		RetryPeriod:   cfg.RetryPeriod,
		Hold:          cfg.Hold,
		ProbeBudget:   cfg.ProbeBudget,
		Lateness:      cfg.Lateness,
		WitnessWindow: cfg.WitnessWindow,
	}, cfg.Healthy)
	return c, nil
}

// poke tells the loop to look again, without blocking.
func (c *Controller) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// ours reports whether svc is a Service this controller serves.
func (c *Controller) ours(svc *corev1.Service) bool {
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return false
	}
	if svc.Spec.LoadBalancerClass == nil {
		return c.cfg.DefaultClass
	}
	return *svc.Spec.LoadBalancerClass == Class
}

// ClaimLeaseName is the name of the claim Lease of key.
func ClaimLeaseName(key string) string {
	if key == AllocatorKey {
		return AllocatorLease
	}
	a, err := netip.ParseAddr(key)
	if err != nil {
		return ClaimLeasePrefix + "invalid"
	}
	return fmt.Sprintf("%s%x", ClaimLeasePrefix, a.AsSlice())
}

// isClaim reports whether l is one of our claim Leases, and its key.
func isClaim(l *coordinationv1.Lease) (string, bool) {
	if l.Labels[LabelRole] != RoleClaim {
		return "", false
	}
	key := l.Annotations[AnnotationClaimKey]
	return key, key != ""
}

// nodeOf reports whether l is a node Lease, and whose.
func nodeOf(l *coordinationv1.Lease) (string, bool) {
	if l.Labels[LabelRole] != RoleNode || len(l.Name) <= len(NodeLeasePrefix) || l.Name[:len(NodeLeasePrefix)] != NodeLeasePrefix {
		return "", false
	}
	return l.Name[len(NodeLeasePrefix):], true
}
