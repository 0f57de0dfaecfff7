package services

import (
	"cmp"
	"context"
	"net/netip"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipkeeper/vipkeeper/pkg/services/owner"
)

// Pacing of the loop.
const (
	// idlePass bounds the time between two passes even when nothing
	// changes, so retries and ride-through ends are never missed.
	idlePass = time.Second
	// retryAfter is the pause after a failed write to the same object.
	retryAfter = time.Second
)

// loop applies events and, after each batch, runs a pass. It returns when
// ctx ends.
func (c *Controller) loop(ctx context.Context, writes *sync.WaitGroup) error {
	defer c.stop()
	c.writes = writes
	c.st.candidate = c.st.healthy
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-c.events:
			ev.apply(c)
		case <-c.wake:
		case <-timer.C:
		}
		// Take whatever else is queued, so a burst costs one pass.
	drain:
		for range cap(c.events) {
			select {
			case ev := <-c.events:
				ev.apply(c)
			case <-c.wake:
			default:
				break drain
			}
		}
		if c.st.relist && c.st.pendingSet == nil && c.st.apiUp {
			c.st.relist = false
			c.restartInformers(ctx)
		}
		timer.Reset(c.pass(ctx))
		if c.st.candidate != c.st.healthy {
			// After the pass: an unhealthy node has unbound by now, and
			// only then releases its node Lease. Once released, peers
			// may take our claims at once: none of them is ours any more
			// until we write it again.
			if !c.st.healthy {
				clear(c.st.confirmed)
			}
			c.st.candidate = c.st.healthy
			c.deps.NodeLease.SetCandidate(c.st.healthy)
		}
	}
}

// strictlyFresh: our node Lease is held and renewed in time, and we are
// healthy. Only then do we take claims or run the allocator.
func (c *Controller) strictlyFresh(now time.Time) bool {
	st := &c.st
	return st.healthy && st.leading && !st.lastRenew.IsZero() &&
		now.Before(st.lastRenew.Add(c.cfg.LeaseDuration-c.cfg.SafetyMargin))
}

// riding: --api-outage hold, and the API server is unreachable (or came
// back less than a renew deadline ago, leaving time to renew).
func (c *Controller) riding(now time.Time) bool {
	st := &c.st
	return c.cfg.Hold && st.healthy && !st.lastRenew.IsZero() &&
		(!st.apiUp || now.Before(st.apiBack.Add(c.cfg.RenewDeadline)))
}

// pass decides, from everything observed, what this node binds, which
// claims it writes and — if it is the allocator — which statuses. It
// returns when the next pass is due at the latest.
func (c *Controller) pass(ctx context.Context) time.Duration {
	st := &c.st
	now := c.now()
	next := idlePass
	strict := c.strictlyFresh(now)
	if strict {
		next = min(next, st.lastRenew.Add(c.cfg.LeaseDuration-c.cfg.SafetyMargin).Sub(now))
	}
	fresh := map[string]bool{c.cfg.Node: strict || c.riding(now)}
	for name, n := range st.nodes {
		if left := n.changed.Add(c.cfg.LeaseDuration).Sub(now); n.holder == name && left > 0 {
			fresh[name] = true
			next = min(next, left)
		}
	}

	svcs := c.ourServices()
	byAddr := map[netip.Addr][]*corev1.Service{}
	for _, s := range svcs {
		for _, a := range ingressAddrs(s) {
			if c.pools.InPool(a) {
				byAddr[a] = append(byAddr[a], s)
			}
		}
	}
	addrs := make([]netip.Addr, 0, len(byAddr))
	for a := range byAddr {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, netip.Addr.Compare)

	items := make([]owner.Item, 0, len(addrs)+1)
	items = append(items, owner.Item{Key: AllocatorKey, Wanted: true, Claim: c.claimOf(AllocatorKey)})
	wanted := map[string]bool{AllocatorKey: true}
	for _, a := range addrs {
		key := a.String()
		wanted[key] = true
		restricted, eligible := c.eligible(byAddr[a])
		items = append(items, owner.Item{Key: key, Wanted: true, Restricted: restricted, Eligible: eligible, Claim: c.claimOf(key)})
	}
	for key := range st.claims {
		if !wanted[key] {
			items = append(items, owner.Item{Key: key, Claim: c.claimOf(key)})
		}
	}

	var bind, probe []netip.Addr
	var takes, gives []owner.Decision
	allocator, claimed := false, 0
	for _, d := range owner.Decide(c.cfg.Node, fresh, items) {
		addr, err := netip.ParseAddr(d.Key)
		isAddr := err == nil
		if isAddr && d.Action != owner.Bind {
			delete(st.probed, addr)
			delete(st.probeAt, addr)
			delete(st.yielded, addr)
		}
		switch d.Action {
		case owner.Bind:
			term, ours := st.confirmed[d.Key]
			if !ours || term != st.term || st.term == 0 {
				// Not our own write of this node-Lease term: write it
				// again (compare-and-swap). A claim we never wrote waits
				// for that; one we wrote in an earlier term (our Lease
				// lapsed but was never released, e.g. an API outage)
				// stays bound meanwhile, provisionally: it yields to any
				// other host that claims it on the wire.
				if strict && st.apiUp && c.mayWrite(d.Key, now) {
					takes = append(takes, owner.Decision{Key: d.Key, Owner: c.cfg.Node, Action: owner.Take})
				}
				if !ours || !isAddr {
					continue
				}
			}
			if !isAddr {
				allocator = true
				continue
			}
			claimed++
			switch {
			case st.yielded[addr]:
			case st.probed[addr] || c.deps.Prober == nil || c.cfg.ProbeWait <= 0:
				bind = append(bind, addr)
			default:
				probe = append(probe, addr)
			}
		case owner.Take:
			// Never while the API is away: a write that lands late could
			// take an address from a holder that rides through.
			if strict && st.apiUp && c.mayWrite(d.Key, now) && c.mayTakeFrom(ctx, c.claimOf(d.Key).Holder) {
				takes = append(takes, d)
			}
		case owner.Handoff, owner.Delete:
			if c.mayWrite(d.Key, now) {
				gives = append(gives, d)
			}
		}
	}

	if !slices.Equal(bind, st.bound) {
		start := c.now()
		if err := c.deps.Binder.SetServiceVIPs(ctx, bind); err != nil {
			// Not known to be unbound: hand nothing over this time. The
			// binder fails only when the node is shutting down: take
			// nothing more either, or peers would wait for our release.
			c.log.Warn("applying Service VIPs failed; taking and handing over nothing", "err", err)
			gives, takes, st.binderDown = nil, nil, true
		} else {
			c.logBound(st.bound, bind, c.now().Sub(start))
			st.bound = bind
		}
	}
	if st.binderDown {
		takes = nil
	}
	// Handoffs and deletes only now: what we give away is unbound.
	for _, d := range gives {
		c.writeClaim(ctx, d)
	}
	for _, d := range takes {
		c.writeClaim(ctx, d)
	}
	c.startProbe(ctx, probe)

	if allocator && strict && st.apiUp && !st.binderDown {
		c.allocate(ctx, svcs)
	} else if st.alloc != nil {
		c.log.Info("allocator role left")
		st.alloc, st.allocated, st.allocSeen = nil, nil, nil
	}
	if c.deps.Observer != nil {
		c.deps.Observer.ServiceVIPs(len(st.bound), claimed, len(addrs), st.alloc != nil)
	}
	return max(next, time.Millisecond)
}

func (c *Controller) logBound(before, after []netip.Addr, took time.Duration) {
	var added, removed []netip.Addr
	for _, a := range after {
		if !containsAddr(before, a) {
			added = append(added, a)
		}
	}
	for _, a := range before {
		if !containsAddr(after, a) {
			removed = append(removed, a)
		}
	}
	if len(added)+len(removed) <= 8 {
		c.log.Info("Service VIPs changed", "bound", len(after), "added", added, "removed", removed, "took_ms", took.Milliseconds())
	} else {
		c.log.Info("Service VIPs changed", "bound", len(after), "added", len(added), "removed", len(removed), "took_ms", took.Milliseconds())
	}
}

// mayTakeFrom reports whether a claim may be taken from holder: nobody,
// a node that released its Lease (it unbound first), or one whose Lease a
// quorum read found unchanged since we last saw it change — our watch may
// lag, and a claim's compare-and-swap says nothing about the holder's
// node Lease. The read is started here and its answer reaches the loop.
func (c *Controller) mayTakeFrom(ctx context.Context, holder string) bool {
	st := &c.st
	if holder == "" || holder == c.cfg.Node {
		return true
	}
	want := goneRV
	if n := st.nodes[holder]; n != nil {
		if n.holder != holder {
			return true // released
		}
		want = n.rv
	}
	if st.verified[holder] == want {
		return true
	}
	if !st.checking[holder] {
		st.checking[holder] = true
		c.writes.Add(1)
		go func() {
			defer c.writes.Done()
			res := nodeChecked{node: holder}
			l, err := c.deps.Client.CoordinationV1().Leases(c.cfg.Namespace).Get(ctx, NodeLeasePrefix+holder, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
			case err != nil:
				res.err = err
			default:
				res.lease = l
			}
			c.send(res)
		}()
	}
	return false
}

func (c *Controller) mayWrite(key string, now time.Time) bool {
	return !c.st.inflight[key] && now.Sub(c.st.failedAt[key]) >= retryAfter
}

func (c *Controller) claimOf(key string) owner.Claim {
	cl := c.st.claims[key]
	if cl == nil {
		return owner.Claim{}
	}
	return owner.Claim{Exists: true, Holder: cl.holder()}
}

// ourServices lists the Services we serve, oldest first (ties by name):
// the order in which the allocator restores them.
func (c *Controller) ourServices() []*corev1.Service {
	var out []*corev1.Service
	for _, o := range c.services.List() {
		if s, ok := o.(*corev1.Service); ok && c.ours(s) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b *corev1.Service) int {
		return cmp.Or(a.CreationTimestamp.Time.Compare(b.CreationTimestamp.Time),
			cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// ingressAddrs are the addresses in a Service's status.
func ingressAddrs(s *corev1.Service) []netip.Addr {
	var out []netip.Addr
	for _, in := range s.Status.LoadBalancer.Ingress {
		if a, err := netip.ParseAddr(in.IP); err == nil && a.Zone() == "" {
			out = append(out, a.Unmap())
		}
	}
	return out
}

// eligible says which nodes may announce an address held by svcs: for
// externalTrafficPolicy Local, the nodes with a ready endpoint of every
// Local Service among them; otherwise any.
func (c *Controller) eligible(svcs []*corev1.Service) (restricted bool, nodes []string) {
	var set map[string]bool
	for _, s := range svcs {
		if s.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
			continue
		}
		ready := c.readyNodes(s)
		if set == nil {
			set = ready
			continue
		}
		for n := range set {
			if !ready[n] {
				delete(set, n)
			}
		}
	}
	if set == nil {
		return false, nil
	}
	for n := range set {
		nodes = append(nodes, n)
	}
	slices.Sort(nodes)
	return true, nodes
}

// readyNodes are the nodes with a ready endpoint of s.
func (c *Controller) readyNodes(s *corev1.Service) map[string]bool {
	out := map[string]bool{}
	objs, _ := c.slices.ByIndex(indexService, s.Namespace+"/"+s.Name)
	for _, o := range objs {
		es, ok := o.(*discoveryv1.EndpointSlice)
		if !ok {
			continue
		}
		for _, ep := range es.Endpoints {
			// A nil ready condition means ready (the API's contract).
			if ep.NodeName != nil && (ep.Conditions.Ready == nil || *ep.Conditions.Ready) {
				out[*ep.NodeName] = true
			}
		}
	}
	return out
}

// startProbe probes addrs for another holder before they are bound, one
// probe at a time; addresses that arrive meanwhile wait for the next.
func (c *Controller) startProbe(ctx context.Context, addrs []netip.Addr) {
	st := &c.st
	if st.probing || len(addrs) == 0 {
		return
	}
	now := c.now()
	for _, a := range addrs {
		if _, ok := st.probeAt[a]; !ok {
			st.probeAt[a] = now
		}
	}
	st.probing = true
	c.writes.Add(1)
	go func() {
		defer c.writes.Done()
		answered, err := c.deps.Prober.Probe(ctx, addrs, c.cfg.ProbeWait)
		if err != nil && ctx.Err() == nil {
			c.log.Warn("probing for current Service VIP holders failed; binding", "err", err)
			answered = nil
		}
		c.send(probeDone{addrs: addrs, answered: answered})
	}()
}
