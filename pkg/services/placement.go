package services

import (
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Placement per pool: an AddressPool's nodeSelector limits which nodes
// announce its addresses to those whose Node labels match, and its
// preferredNodes win the choice among those (owner.Item.Preferred). Every node
// watches the Nodes (trimmed to their names and labels), as it watches
// the EndpointSlices for externalTrafficPolicy Local: the labels come
// from the API server, so every node decides on the same view, and the
// pure owner function sees the result as an item's eligible nodes. A Node
// object costs no request while its labels do not change; kubelet's
// status updates reach the watch but not the loop (nodeChanged).

// selectNodes narrows the eligible nodes of an address to those whose
// labels match sel. restricted and eligible are what the address's
// Services already require (eTP Local: nodes with a ready endpoint); when
// unrestricted, every node with a Node object is a candidate. A node
// without a Node object has no labels. The result is sorted.
func selectNodes(sel labels.Selector, nodeLabels map[string]labels.Set, restricted bool, eligible []string) []string {
	var out []string
	if restricted {
		for _, n := range eligible {
			if sel.Matches(nodeLabels[n]) {
				out = append(out, n)
			}
		}
	} else {
		for n, l := range nodeLabels {
			if sel.Matches(l) {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return out
}

// nodeLabels are the labels of every Node in the cache, by name.
func (c *Controller) nodeLabels() map[string]labels.Set {
	out := map[string]labels.Set{}
	if c.nodes == nil {
		return out
	}
	for _, o := range c.nodes.List() {
		if n, ok := o.(*corev1.Node); ok {
			out[n.Name] = labels.Set(n.Labels)
		}
	}
	return out
}

// nodeChanged tells the loop about a Node whose labels changed.
func (c *Controller) nodeChanged(old, cur any) {
	o, ok1 := old.(*corev1.Node)
	n, ok2 := cur.(*corev1.Node)
	if ok1 && ok2 && labels.Equals(o.Labels, n.Labels) {
		return // a status update: nothing placement reads
	}
	c.poke()
}

// placementOf is the node selector (nil if none) and the preferred nodes
// of a's pool.
func (c *Controller) placementOf(a netip.Addr) (labels.Selector, []string) {
	if len(c.poolSelectors) == 0 && len(c.poolPreferred) == 0 {
		return nil, nil // no pool places its addresses: skip the lookup
	}
	pool := c.pools.PoolOf(a)
	return c.poolSelectors[pool], c.poolPreferred[pool]
}
