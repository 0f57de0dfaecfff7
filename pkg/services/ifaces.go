package services

import (
	"maps"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Interface per pool: an AddressPool's interface carries its addresses on
// every node (pkg/links binds, announces, guards and probes them there),
// and a node where that link is down or missing does not announce them.
// Every node must decide on the same view, so each publishes the pool
// interfaces that are down on its own node Lease, in AnnotationLinksDown:
// the value rides on the next renewal (pkg/election, Config.Annotations),
// at no request of its own, and every node reads it from the node Lease
// watch it already runs — its own Lease included: a node that judged by
// its own link while its peers judge by its Lease would hand an address
// back and forth with them until the renewal lands. A link that goes
// down is published within a retry period; the node keeps announcing on
// the dead link meanwhile, which reaches nobody, and hands the address
// over through its claim as for any other change of owner.

// AnnotationLinksDown, on a node Lease, lists the interfaces named by
// pools that are down or missing on that node, comma-separated and
// sorted; absent when every one is up.
const AnnotationLinksDown = "vipkeeper.io/links-down"

// links runs the data plane of the pools' interfaces (pkg/links).
type links interface {
	// Use starts watching ifaces (their state comes back through
	// Inbox.LinkState) and readies their data planes.
	Use(ifaces []string)
	// Route says which addresses go on an interface other than the
	// default one, for every later bind, announcement and probe.
	Route(routes map[netip.Addr]string)
}

// linkEvent: a pool interface's link on this node went up or down.
type linkEvent struct {
	iface string
	up    bool
}

func (e linkEvent) apply(c *Controller) {
	st := &c.st
	if up, known := st.linksUp[e.iface]; known && up == e.up {
		return
	}
	st.linksUp[e.iface] = e.up
	c.publishLinks()
}

// LinkState reports the state of a pool's interface on this node.
func (in *Inbox) LinkState(iface string, up bool) { in.send(linkEvent{iface: iface, up: up}) }

// linksDown is this node's pool interfaces that are not known to be up:
// one whose state has not been reported yet counts as down.
func (c *Controller) linksDown() []string {
	var out []string
	for _, i := range c.poolIfaceList {
		if !c.st.linksUp[i] {
			out = append(out, i)
		}
	}
	return out
}

// publishLinks stores what the node Lease's next write publishes, and
// logs a change.
func (c *Controller) publishLinks() {
	down := strings.Join(c.linksDown(), ",")
	if old := c.published.Swap(&down); old == nil || *old != down {
		if down == "" {
			c.log.Info("every pool interface is up")
		} else {
			c.log.Warn("pool interfaces down: this node does not announce their pools' addresses", "interfaces", down)
		}
	}
}

// NodeLeaseAnnotations are the annotations of this node's Lease
// (election.Config.Annotations): the pool interfaces that are down. Until
// the loop has read the pools it says nothing, so a restart leaves what
// the last run published in place rather than clearing it for a renewal
// or two. Safe for concurrent use.
func (in *Inbox) NodeLeaseAnnotations() map[string]string {
	p := in.published.Load()
	if p == nil {
		return nil
	}
	return map[string]string{AnnotationLinksDown: *p}
}

// parseLinksDown reads AnnotationLinksDown: the names, without empty
// ones.
func parseLinksDown(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// linkNodes narrows the eligible nodes of an address carried by iface to
// those where it is up. restricted and eligible are what the address
// already requires (eTP Local, a node selector); when unrestricted, every
// node in candidates (those with a node Lease) is one. down says whether
// iface is down on a node. The result is sorted.
func linkNodes(iface string, down func(node, iface string) bool, restricted bool, eligible, candidates []string) []string {
	from := candidates
	if restricted {
		from = eligible
	}
	var out []string
	for _, n := range from {
		if !down(n, iface) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// linkDown says whether iface is down on node, by node's Lease. Until
// this node has seen its own Lease, its own link state stands in.
func (c *Controller) linkDown(node, iface string) bool {
	if node == c.cfg.Node {
		if c.st.ownLinksDown == nil {
			return !c.st.linksUp[iface]
		}
		return slices.Contains(*c.st.ownLinksDown, iface)
	}
	p := c.st.peers[node]
	return p == nil || slices.Contains(p.linksDown, iface)
}

// ifaceOf is the interface of a's pool, "" for the default one.
func (c *Controller) ifaceOf(a netip.Addr) string {
	if len(c.poolIfaces) == 0 {
		return ""
	}
	return c.poolIfaces[c.pools.PoolOf(a)]
}

// setPoolIfaces takes the pools' interfaces: their links are watched from
// now on, and the node publishes their state.
func (c *Controller) setPoolIfaces(ifaces map[string]string) {
	c.poolIfaces = ifaces
	var list []string
	for _, i := range ifaces {
		if !slices.Contains(list, i) {
			list = append(list, i)
		}
	}
	slices.Sort(list)
	if slices.Equal(list, c.poolIfaceList) && c.published.Load() != nil {
		return
	}
	c.poolIfaceList = list
	if c.deps.Links != nil {
		c.deps.Links.Use(list)
	}
	c.publishLinks()
}

// route hands the links the interfaces of the addresses of byAddr whose
// pool names one, before anything of them is bound or probed.
func (c *Controller) route(byAddr map[netip.Addr][]*corev1.Service) {
	if c.deps.Links == nil {
		return
	}
	routes := map[netip.Addr]string{}
	for a := range byAddr {
		if i := c.ifaceOf(a); i != "" {
			routes[a] = i
		}
	}
	if len(routes) == 0 && len(c.st.routed) == 0 {
		return
	}
	if !maps.Equal(routes, c.st.routed) {
		c.deps.Links.Route(routes)
		c.st.routed = routes
	}
}
