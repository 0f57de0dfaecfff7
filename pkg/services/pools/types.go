package pools

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The API of the pool objects.
const (
	Group    = "vipkeeper.io"
	Version  = "v1alpha1"
	Kind     = "AddressPool"
	Resource = "addresspools"
	// CRDName is the CustomResourceDefinition's name.
	CRDName = Resource + "." + Group
)

// GVR is the resource the daemon lists, watches and writes the status of.
var GVR = schema.GroupVersionResource{Group: Group, Version: Version, Resource: Resource}

// AddressPool is one pool of addresses for LoadBalancer Services.
type AddressPool struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              Spec   `json:"spec"`
	Status            Status `json:"status,omitempty"`
}

// Spec is what the operator writes.
type Spec struct {
	// Addresses are CIDRs or inclusive ranges FIRST-LAST, the items of
	// the flag form (ipam.ParseRange).
	Addresses []string `json:"addresses"`
	// Namespaces that may use the pool; empty: every namespace.
	Namespaces []string `json:"namespaces,omitempty"`
	// AutoAssign (default true): the pool serves Services that ask for
	// no pool. False: only those that name it or one of its addresses.
	AutoAssign *bool `json:"autoAssign,omitempty"`
	// Placement: where the pool's addresses are announced. NodeSelector
	// limits the nodes to those whose Node labels match; Interface names
	// the link that carries them on every node (default: the daemon's
	// --interface), and a node where it is down or missing does not
	// announce them; PreferredNodes win the choice among the eligible
	// nodes while one is live (a soft weight).
	NodeSelector   *metav1.LabelSelector `json:"nodeSelector,omitempty"`
	Interface      string                `json:"interface,omitempty"`
	PreferredNodes []string              `json:"preferredNodes,omitempty"`
}

// Status is written by the allocator node only.
type Status struct {
	// ObservedGeneration is the spec generation the conditions describe.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: ConditionValid.
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Usage per address family, from the allocator.
	Usage []Usage `json:"usage,omitempty"`
}

// Usage is one family's use of a pool.
type Usage struct {
	Family string `json:"family"` // IPv4 or IPv6
	// Allocated addresses; Total usable ones, a decimal string because an
	// IPv6 pool may hold more than 2^63.
	Allocated int    `json:"allocated"`
	Total     string `json:"total"`
}

// ConditionValid is True when the pool passed the daemon's validation
// and serves addresses; False names why not.
const ConditionValid = "Valid"

// Reasons of the Valid condition.
const (
	ReasonAccepted = "Accepted"
	ReasonInvalid  = "InvalidAddresses" // ipam refuses the pool on its own
	ReasonOverlap  = "Overlaps"         // it overlaps an older valid pool
)
