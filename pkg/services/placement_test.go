package services

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/labels"
)

// TestSelectNodes: which nodes may announce an address of a pool with a
// node selector, with and without eTP Local's restriction, for every
// order of the eligible list.
func TestSelectNodes(t *testing.T) {
	segB := labels.SelectorFromSet(labels.Set{"vipkeeper.io/segment": "b"})
	notA, err := labels.Parse("vipkeeper.io/segment!=a")
	if err != nil {
		t.Fatal(err)
	}
	nodes := map[string]labels.Set{
		"n1": {"vipkeeper.io/segment": "a"},
		"n2": {"vipkeeper.io/segment": "b"},
		"n3": {"vipkeeper.io/segment": "b", "zone": "z1"},
		"n4": {},
	}
	for _, tc := range []struct {
		name       string
		sel        labels.Selector
		restricted bool
		eligible   []string
		want       []string
	}{
		{"unrestricted: every matching Node", segB, false, nil, []string{"n2", "n3"}},
		{"restricted: the endpoints' nodes that match", segB, true, []string{"n1", "n3"}, []string{"n3"}},
		{"restricted, none matches", segB, true, []string{"n1", "n4"}, nil},
		{"a node without a Node object has no labels", notA, true, []string{"n1", "n5"}, []string{"n5"}},
		{"negative selector, unrestricted", notA, false, nil, []string{"n2", "n3", "n4"}},
	} {
		orders := [][]string{tc.eligible, slices.Clone(tc.eligible)}
		slices.Reverse(orders[1])
		for _, el := range orders {
			got := selectNodes(tc.sel, nodes, tc.restricted, el)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s, eligible %v (-want +got):\n%s", tc.name, el, diff)
			}
		}
	}
}
