package pools

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/vipkeeper/vipkeeper/pkg/services/ipam"
)

// StatusFor is the status the allocator writes on o: its verdict as the
// Valid condition (lastTransitionTime kept from the current status while
// the condition's status does not change) and, for a valid pool, its
// usage. now stamps a transition.
func StatusFor(o *AddressPool, v Verdict, usage []ipam.PoolUsage, now metav1.Time) Status {
	st := Status{ObservedGeneration: o.Generation, Conditions: slices.Clone(o.Status.Conditions)}
	cond := metav1.Condition{Type: ConditionValid, Status: metav1.ConditionFalse, Reason: v.Reason,
		Message: v.Message, ObservedGeneration: o.Generation, LastTransitionTime: now}
	if v.Valid {
		cond.Status = metav1.ConditionTrue
	}
	if len(cond.Message) > maxMessage {
		cond.Message = cond.Message[:maxMessage]
	}
	meta.SetStatusCondition(&st.Conditions, cond)
	if v.Valid {
		for _, u := range usage {
			if u.Pool == o.Name {
				st.Usage = append(st.Usage, Usage{Family: string(u.Family), Allocated: u.Used, Total: fmt.Sprintf("%.0f", u.Size)})
			}
		}
	}
	return st
}

// maxMessage is metav1.Condition's limit on a message (32 KiB); a
// message of ours is a sentence, far below.
const maxMessage = 32768

// SameStatus reports whether writing b over a would change nothing but
// timestamps.
func SameStatus(a, b Status) bool {
	if a.ObservedGeneration != b.ObservedGeneration || !slices.Equal(a.Usage, b.Usage) || len(a.Conditions) != len(b.Conditions) {
		return false
	}
	for i := range a.Conditions {
		x, y := a.Conditions[i], b.Conditions[i]
		if x.Type != y.Type || x.Status != y.Status || x.Reason != y.Reason || x.Message != y.Message || x.ObservedGeneration != y.ObservedGeneration {
			return false
		}
	}
	return true
}

// FromUnstructured converts an object of the dynamic client or informer.
func FromUnstructured(u map[string]any) (*AddressPool, error) {
	var o AddressPool
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u, &o); err != nil {
		return nil, fmt.Errorf("address pool: %w", err)
	}
	return &o, nil
}

// ToUnstructured converts o for the dynamic client.
func ToUnstructured(o *AddressPool) (map[string]any, error) {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return nil, fmt.Errorf("address pool %s: %w", o.Name, err)
	}
	return u, nil
}
