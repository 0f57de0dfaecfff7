package pools

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/vipkeeper/vipkeeper/pkg/ifname"
	"github.com/vipkeeper/vipkeeper/pkg/services/ipam"
)

// Verdict is the daemon's judgement of one pool object.
type Verdict struct {
	Valid   bool
	Reason  string // ConditionValid's reason
	Message string // why not valid; a sentence for the condition
}

// Compiled is what every node derives from the pool objects it sees.
type Compiled struct {
	// Specs are the valid pools, in allocation order: by name.
	Specs []ipam.PoolSpec
	// Verdicts by object name, for every object not being deleted.
	Verdicts map[string]Verdict
	// Selectors are the node selectors of the valid pools that have one:
	// only nodes whose Node labels match announce their addresses.
	Selectors map[string]labels.Selector
	// Preferred are the preferred nodes of the valid pools that name
	// some (owner.Item.Preferred).
	Preferred map[string][]string
	// Interfaces are the interfaces of the valid pools that name one:
	// their addresses are bound and announced there, and only nodes
	// where it is up announce them.
	Interfaces map[string]string
}

// Compile applies the ipam rules to the pool objects: each pool on its own
// (addresses, namespaces, reserved blocks), then the pools together,
// oldest first (creationTimestamp, ties by name): a pool that overlaps an
// older valid one is not valid, so creating a pool never invalidates one
// that serves addresses. Objects being deleted are left out: their
// addresses leave the pools at once. The answer depends on the objects
// only, so every node that sees the same objects derives the same pools.
func Compile(objs []*AddressPool, excl ...ipam.Exclusion) Compiled {
	out := Compiled{Verdicts: map[string]Verdict{}, Selectors: map[string]labels.Selector{},
		Preferred: map[string][]string{}, Interfaces: map[string]string{}}
	live := make([]*AddressPool, 0, len(objs))
	for _, o := range objs {
		if o.DeletionTimestamp == nil {
			live = append(live, o)
		}
	}
	slices.SortFunc(live, func(a, b *AddressPool) int {
		return cmp.Or(a.CreationTimestamp.Time.Compare(b.CreationTimestamp.Time), cmp.Compare(a.Name, b.Name))
	})
	var accepted []ipam.PoolSpec
	for _, o := range live {
		spec := SpecOf(o)
		if i := o.Spec.Interface; i != "" {
			if err := ifname.Check(i); err != nil {
				out.Verdicts[o.Name] = Verdict{Reason: ReasonInvalid, Message: fmt.Sprintf("pool %q: interface: %v", o.Name, err)}
				continue
			}
		}
		var sel labels.Selector
		if o.Spec.NodeSelector != nil {
			var err error
			if sel, err = metav1.LabelSelectorAsSelector(o.Spec.NodeSelector); err != nil {
				out.Verdicts[o.Name] = Verdict{Reason: ReasonInvalid, Message: fmt.Sprintf("pool %q: nodeSelector: %v", o.Name, err)}
				continue
			}
		}
		if _, err := ipam.New([]ipam.PoolSpec{spec}, excl...); err != nil {
			out.Verdicts[o.Name] = Verdict{Reason: ReasonInvalid, Message: trimErr(err)}
			continue
		}
		if _, err := ipam.New(append(slices.Clone(accepted), spec), excl...); err != nil {
			out.Verdicts[o.Name] = Verdict{Reason: ReasonOverlap, Message: trimErr(err)}
			continue
		}
		accepted = append(accepted, spec)
		if sel != nil {
			out.Selectors[o.Name] = sel
		}
		if len(o.Spec.PreferredNodes) > 0 {
			out.Preferred[o.Name] = slices.Clone(o.Spec.PreferredNodes)
		}
		if o.Spec.Interface != "" {
			out.Interfaces[o.Name] = o.Spec.Interface
		}
		out.Verdicts[o.Name] = Verdict{Valid: true, Reason: ReasonAccepted, Message: "the pool serves addresses"}
	}
	slices.SortFunc(accepted, func(a, b ipam.PoolSpec) int { return cmp.Compare(a.Name, b.Name) })
	out.Specs = accepted
	return out
}

// SpecOf is the ipam form of a pool object.
func SpecOf(o *AddressPool) ipam.PoolSpec {
	return ipam.PoolSpec{
		Name:       o.Name,
		Addresses:  slices.Clone(o.Spec.Addresses),
		Namespaces: slices.Clone(o.Spec.Namespaces),
		Manual:     o.Spec.AutoAssign != nil && !*o.Spec.AutoAssign,
	}
}

// trimErr drops the sentinel's text that ipam appends ("…: invalid
// address pool"), which the condition's reason already says.
func trimErr(err error) string {
	msg := err.Error()
	if suffix := ": " + ipam.ErrInvalidPool.Error(); errors.Is(err, ipam.ErrInvalidPool) && len(msg) > len(suffix) && msg[len(msg)-len(suffix):] == suffix {
		return msg[:len(msg)-len(suffix)]
	}
	return msg
}
