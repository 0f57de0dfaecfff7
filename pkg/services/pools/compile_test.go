package pools

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vipkeeper/vipkeeper/pkg/services/ipam"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// obj is a pool object created age seconds after epoch.
func obj(name string, age int, addrs ...string) *AddressPool {
	return &AddressPool{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(epoch.Add(time.Duration(age) * time.Second))},
		Spec:       Spec{Addresses: addrs},
	}
}

func with(o *AddressPool, f func(*AddressPool)) *AddressPool { f(o); return o }

// TestCompile: the daemon's validation of pool objects, and the verdicts
// it writes as the Valid condition. Every case is also run in reverse
// input order: the answer depends on the objects, not on the order the
// informer lists them in.
func TestCompile(t *testing.T) {
	deleting := metav1.NewTime(epoch)
	tests := []struct {
		name      string
		objs      []*AddressPool
		wantSpecs []string // valid pool names, in allocation order
		want      map[string]string
	}{
		{"one good pool", []*AddressPool{obj("a", 0, "203.0.113.128/25")}, []string{"a"},
			map[string]string{"a": ReasonAccepted}},
		{"allocation order is by name", []*AddressPool{obj("zeta", 0, "203.0.113.128/26"), obj("alpha", 1, "203.0.113.192/26")},
			[]string{"alpha", "zeta"}, map[string]string{"alpha": ReasonAccepted, "zeta": ReasonAccepted}},
		{"the younger of two overlapping pools is refused", []*AddressPool{obj("old", 5, "203.0.113.128/25"), obj("new", 9, "203.0.113.200-203.0.113.210")},
			[]string{"old"}, map[string]string{"old": ReasonAccepted, "new": ReasonOverlap}},
		{"same age: the name decides", []*AddressPool{obj("b", 0, "203.0.113.128/25"), obj("a", 0, "203.0.113.128/26")},
			[]string{"a"}, map[string]string{"a": ReasonAccepted, "b": ReasonOverlap}},
		{"an invalid pool does not block a younger one", []*AddressPool{obj("bad", 0, "203.0.113.128/25", "127.0.0.1/32"), obj("good", 1, "203.0.113.128/25")},
			[]string{"good"}, map[string]string{"bad": ReasonInvalid, "good": ReasonAccepted}},
		{"a pool being deleted is left out, and frees its addresses", []*AddressPool{
			with(obj("gone", 0, "203.0.113.128/25"), func(o *AddressPool) { o.DeletionTimestamp = &deleting }), obj("next", 1, "203.0.113.128/25")},
			[]string{"next"}, map[string]string{"next": ReasonAccepted}},
		{"host bits", []*AddressPool{obj("x", 0, "203.0.113.130/25")}, nil, map[string]string{"x": ReasonInvalid}},
		{"name too long for a label", []*AddressPool{obj("a234567890123456789012345678901234567890123456789012345678901234", 0, "203.0.113.128/25")}, nil,
			map[string]string{"a234567890123456789012345678901234567890123456789012345678901234": ReasonInvalid}},
		{"an interface is", []*AddressPool{with(obj("p", 0, "203.0.113.128/25"), func(o *AddressPool) { o.Spec.Interface = "eth1" })},
			[]string{"p"}, map[string]string{"p": ReasonAccepted}},
		{"an interface the kernel would refuse is not", []*AddressPool{with(obj("p", 0, "203.0.113.128/25"), func(o *AddressPool) { o.Spec.Interface = "eth1:0" })},
			nil, map[string]string{"p": ReasonInvalid}},
		{"nor one too long for the kernel", []*AddressPool{with(obj("p", 0, "203.0.113.128/25"), func(o *AddressPool) { o.Spec.Interface = "a234567890123456" })},
			nil, map[string]string{"p": ReasonInvalid}},
		{"preferredNodes are", []*AddressPool{with(obj("p", 0, "203.0.113.128/25"), func(o *AddressPool) { o.Spec.PreferredNodes = []string{"n1"} })},
			[]string{"p"}, map[string]string{"p": ReasonAccepted}},
		{"a node selector is", []*AddressPool{with(obj("p", 0, "203.0.113.128/25"), func(o *AddressPool) {
			o.Spec.NodeSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"vipkeeper.io/segment": "b"}}
		})}, []string{"p"}, map[string]string{"p": ReasonAccepted}},
		{"a bad node selector is not", []*AddressPool{with(obj("p", 0, "203.0.113.128/25"), func(o *AddressPool) {
			o.Spec.NodeSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "In"}}}
		})}, nil, map[string]string{"p": ReasonInvalid}},
	}
	for _, tc := range tests {
		for _, reverse := range []bool{false, true} {
			objs := append([]*AddressPool(nil), tc.objs...)
			if reverse {
				for i, j := 0, len(objs)-1; i < j; i, j = i+1, j-1 {
					objs[i], objs[j] = objs[j], objs[i]
				}
			}
			got := Compile(objs)
			var names []string
			for _, s := range got.Specs {
				names = append(names, s.Name)
			}
			if diff := cmp.Diff(tc.wantSpecs, names); diff != "" {
				t.Errorf("%s (reverse %v): valid pools (-want +got):\n%s", tc.name, reverse, diff)
			}
			reasons := map[string]string{}
			for n, v := range got.Verdicts {
				reasons[n] = v.Reason
				if v.Valid != (v.Reason == ReasonAccepted) || (!v.Valid && v.Message == "") {
					t.Errorf("%s: verdict of %s: %+v", tc.name, n, v)
				}
			}
			if diff := cmp.Diff(tc.want, reasons); diff != "" {
				t.Errorf("%s (reverse %v): reasons (-want +got):\n%s", tc.name, reverse, diff)
			}
		}
	}
}

func TestCompileMessage(t *testing.T) {
	got := Compile([]*AddressPool{obj("old", 0, "203.0.113.128/25"), obj("new", 1, "203.0.113.200/32")})
	want := `pool "new": 203.0.113.200/32 overlaps 203.0.113.128/25 of pool "old"`
	if diff := cmp.Diff(want, got.Verdicts["new"].Message); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestSpecOf(t *testing.T) {
	o := obj("m", 0, "203.0.113.128/25")
	o.Spec.Namespaces, o.Spec.AutoAssign = []string{"team-a"}, ptr.To(false)
	want := ipam.PoolSpec{Name: "m", Addresses: []string{"203.0.113.128/25"}, Namespaces: []string{"team-a"}, Manual: true}
	if diff := cmp.Diff(want, SpecOf(o)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	o.Spec.AutoAssign = nil
	if SpecOf(o).Manual {
		t.Error("autoAssign unset: manual; want automatic (the schema's default is true)")
	}
}

// TestStatusFor: the condition keeps its transition time while its status
// holds, usage is the pool's own, and an equal status is not written again.
func TestStatusFor(t *testing.T) {
	o := obj("a", 0, "203.0.113.128/25")
	o.Generation = 3
	t0, t1 := metav1.NewTime(epoch), metav1.NewTime(epoch.Add(time.Minute))
	usage := []ipam.PoolUsage{{Pool: "a", Family: "IPv4", Size: 126, Used: 2}, {Pool: "b", Family: "IPv4", Size: 1, Used: 1}}
	st := StatusFor(o, Verdict{Valid: true, Reason: ReasonAccepted, Message: "ok"}, usage, t0)
	want := Status{ObservedGeneration: 3,
		Conditions: []metav1.Condition{{Type: ConditionValid, Status: metav1.ConditionTrue, Reason: ReasonAccepted, Message: "ok", ObservedGeneration: 3, LastTransitionTime: t0}},
		Usage:      []Usage{{Family: "IPv4", Allocated: 2, Total: "126"}}}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	o.Status = st
	again := StatusFor(o, Verdict{Valid: true, Reason: ReasonAccepted, Message: "ok"}, usage, t1)
	if !SameStatus(st, again) || !again.Conditions[0].LastTransitionTime.Equal(&t0) {
		t.Errorf("the same verdict again: %+v; want no change", again)
	}
	bad := StatusFor(o, Verdict{Reason: ReasonOverlap, Message: "overlaps"}, usage, t1)
	if SameStatus(st, bad) || bad.Usage != nil || !bad.Conditions[0].LastTransitionTime.Equal(&t1) {
		t.Errorf("turned invalid: %+v; want a new transition and no usage", bad)
	}
}

func TestCompileSelectors(t *testing.T) {
	p := obj("p", 0, "203.0.113.128/26")
	p.Spec.NodeSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"vipkeeper.io/segment": "b"}}
	got := Compile([]*AddressPool{p, obj("q", 1, "203.0.113.192/26")})
	if len(got.Selectors) != 1 || got.Selectors["p"].String() != "vipkeeper.io/segment=b" {
		t.Errorf("selectors %v; want p's only", got.Selectors)
	}
	p.Spec.PreferredNodes = []string{"n2", "n1"}
	got = Compile([]*AddressPool{p, obj("q", 1, "203.0.113.192/26")})
	if diff := cmp.Diff(map[string][]string{"p": {"n2", "n1"}}, got.Preferred); diff != "" {
		t.Errorf("preferred (-want +got):\n%s", diff)
	}
	p.Spec.Interface = "eth1"
	got = Compile([]*AddressPool{p, obj("q", 1, "203.0.113.192/26")})
	if diff := cmp.Diff(map[string]string{"p": "eth1"}, got.Interfaces); diff != "" {
		t.Errorf("interfaces (-want +got):\n%s", diff)
	}
}
