package services

import (
	"cmp"
	"context"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/vipkeeper/vipkeeper/pkg/services/ipam"
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
	c.st.candidate = c.st.tenure.Healthy()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-c.box.C():
			ev.apply(c)
		case <-c.wake:
		case <-timer.C:
		}
		// Take whatever else is queued, so a burst costs one pass.
	drain:
		for range cap(c.box.C()) {
			select {
			case ev := <-c.box.C():
				ev.apply(c)
			case <-c.wake:
			default:
				break drain
			}
		}
		if c.st.relist && c.st.pendingSet == nil && c.st.tenure.APIUp() {
			c.st.relist = false
			c.restartInformers(ctx)
		}
		if c.st.poolsDirty {
			c.reloadPools()
		}
		p := c.decide(c.now())
		c.apply(ctx, p)
		timer.Reset(p.next)
		if healthy := c.st.tenure.Healthy(); c.st.candidate != healthy {
			// After the pass: an unhealthy node has unbound by now, and
			// only then releases its node Lease. Once released, peers
			// may take our claims at once: none of them is ours any more
			// until we write it again.
			if !healthy {
				for _, ks := range c.st.keys {
					ks.confirmed = 0
				}
			}
			c.st.candidate = healthy
			c.deps.NodeLease.SetCandidate(healthy)
		}
	}
}

// plan is what one pass decided: the loop's state and the informers'
// caches in, the actions out. decide builds it without side effects;
// apply carries it out.
type plan struct {
	next  time.Duration // when the next pass is due at the latest
	bind  []netip.Addr  // what the binder must hold
	probe []netip.Addr  // addresses to probe before they are bound
	reset []netip.Addr  // addresses no longer ours to bind: forget their probe
	// takes and gives are claim writes; gives (handoffs and deletes) only
	// once what they give away is unbound.
	takes, gives []owner.Decision
	check        []string // nodes whose Lease to read at quorum before taking from them
	allocate     bool     // run the allocator role
	services     []*corev1.Service
	byAddr       map[netip.Addr][]*corev1.Service // the Services of each address
	// figures for the Observer
	claimed, addresses int
}

// decide works out, from everything observed, what this node binds, which
// claims it writes and whether it runs the allocator. It reads the loop's
// state and the caches and changes nothing.
func (c *Controller) decide(now time.Time) plan {
	st := &c.st
	p := plan{next: idlePass}
	strict := st.tenure.Fresh(now)
	hold := st.tenure.MayHold(now)
	if hold.OK && !hold.Until.IsZero() {
		p.next = min(p.next, hold.Until.Sub(now))
	}
	fresh := map[string]bool{c.cfg.Node: hold.OK}
	for name, n := range st.peers {
		if left := n.changed.Add(c.cfg.LeaseDuration).Sub(now); n.seen && n.holder == name && left > 0 {
			fresh[name] = true
			p.next = min(p.next, left)
		}
	}

	p.services = c.ourServices()
	byAddr := map[netip.Addr][]*corev1.Service{}
	for _, s := range p.services {
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
	p.addresses = len(addrs)
	p.byAddr = byAddr

	items := make([]owner.Item, 0, len(addrs)+1)
	items = append(items, owner.Item{Key: AllocatorKey, Wanted: true, Claim: c.claimOf(AllocatorKey)})
	wanted := map[string]bool{AllocatorKey: true}
	var nodeLabels map[string]labels.Set // read once per pass, if a pool needs them
	var candidates []string              // the live nodes, if a pool's interface needs them
	for _, a := range addrs {
		key := a.String()
		wanted[key] = true
		restricted, eligible := c.eligible(byAddr[a])
		sel, preferred := c.placementOf(a)
		if sel != nil {
			if nodeLabels == nil {
				nodeLabels = c.nodeLabels()
			}
			restricted, eligible = true, selectNodes(sel, nodeLabels, restricted, eligible)
		}
		if iface := c.ifaceOf(a); iface != "" {
			if candidates == nil {
				candidates = slices.Sorted(maps.Keys(fresh))
			}
			restricted, eligible = true, linkNodes(iface, c.linkDown, restricted, eligible, candidates)
		}
		items = append(items, owner.Item{Key: key, Wanted: true, Restricted: restricted, Eligible: eligible,
			Preferred: preferred, Claim: c.claimOf(key)})
	}
	for key, ks := range st.keys {
		if ks.claim != nil && !wanted[key] {
			items = append(items, owner.Item{Key: key, Claim: c.claimOf(key)})
		}
	}
	slices.SortFunc(items[len(addrs)+1:], func(a, b owner.Item) int { return cmp.Compare(a.Key, b.Key) })

	// Claims are written only by a fresh node, and never while the API is
	// away: a write that lands late could take an address from a holder
	// that rides through.
	writable := strict && st.tenure.APIUp()
	allocator := false
	for _, d := range owner.Decide(c.cfg.Node, fresh, items) {
		addr, err := netip.ParseAddr(d.Key)
		isAddr := err == nil
		ks := st.keys[d.Key]
		if isAddr && d.Action != owner.Bind && ks != nil && (!ks.probeAt.IsZero() || ks.probed || ks.yielded) {
			p.reset = append(p.reset, addr)
		}
		switch d.Action {
		case owner.Bind:
			var confirmed uint64
			if ks != nil {
				confirmed = ks.confirmed
			}
			if term := st.tenure.Term(); confirmed == 0 || confirmed != term || term == 0 {
				// Not our own write of this node-Lease term: write it
				// again (compare-and-swap). A claim we never wrote waits
				// for that; one we wrote in an earlier term (our Lease
				// lapsed but was never released, e.g. an API outage)
				// stays bound meanwhile, provisionally: it yields to any
				// other host that claims it on the wire.
				if writable && c.mayWrite(d.Key, now) {
					p.takes = append(p.takes, owner.Decision{Key: d.Key, Owner: c.cfg.Node, Action: owner.Take})
				}
				if confirmed == 0 || !isAddr {
					continue
				}
			}
			if !isAddr {
				allocator = true
				continue
			}
			p.claimed++
			switch {
			case ks != nil && ks.yielded:
			case ks != nil && ks.probed, c.deps.Prober == nil, c.cfg.ProbeWait <= 0:
				p.bind = append(p.bind, addr)
			default:
				p.probe = append(p.probe, addr)
			}
		case owner.Take:
			if !writable || !c.mayWrite(d.Key, now) {
				continue
			}
			ok, check := c.mayTakeFrom(c.claimOf(d.Key).Holder)
			if check != "" && !slices.Contains(p.check, check) {
				p.check = append(p.check, check)
			}
			if ok {
				p.takes = append(p.takes, d)
			}
		case owner.Handoff, owner.Delete:
			if c.mayWrite(d.Key, now) {
				p.gives = append(p.gives, d)
			}
		}
	}
	p.allocate = allocator && writable && !st.binderDown
	p.next = max(p.next, time.Millisecond)
	return p
}

// apply carries out a plan: the binder first, then the claim writes
// (handoffs only once what they give away is unbound), the quorum reads,
// the probe and the allocator.
func (c *Controller) apply(ctx context.Context, p plan) {
	st := &c.st
	st.byAddr = p.byAddr
	c.route(p.byAddr)
	for _, a := range p.reset {
		if ks := st.keys[a.String()]; ks != nil {
			ks.resetProbe()
		}
	}
	// The deadline of what is bound: asked on every pass, which extends
	// it while the node rides through an outage; a renewal moves it.
	until, _ := st.tenure.Lifetime(c.now())
	if moved := len(p.bind) > 0 && until.After(st.boundUntil); moved || !slices.Equal(p.bind, st.bound) {
		start := c.now()
		if err := c.deps.Binder.SetServiceVIPs(ctx, p.bind, until); err != nil {
			// Not known to be unbound: hand nothing over this time. The
			// binder fails only when the node is shutting down: take
			// nothing more either, or peers would wait for our release.
			c.log.Warn("applying Service VIPs failed; taking and handing over nothing", "err", err)
			p.gives, p.takes, st.binderDown = nil, nil, true
		} else {
			if !slices.Equal(p.bind, st.bound) {
				c.logBound(st.bound, p.bind, c.now().Sub(start))
			}
			st.bound, st.boundUntil = p.bind, until
		}
	}
	if st.binderDown {
		p.takes = nil
	}
	for _, d := range p.gives {
		c.writeClaim(ctx, d)
	}
	for _, d := range p.takes {
		c.writeClaim(ctx, d)
	}
	for _, node := range p.check {
		c.checkNode(ctx, node)
	}
	c.startProbe(ctx, p.probe)

	if p.allocate {
		c.allocate(ctx, p.services)
		c.writePoolStatuses(ctx)
	} else if st.alloc != nil {
		c.log.Info("allocator role left")
		st.alloc = nil
		for _, s := range st.svcs {
			s.allocated, s.seen = nil, ""
		}
	}
	c.forget()
	c.checkPools()
	if c.deps.Observer != nil {
		c.deps.Observer.ServiceVIPs(len(st.bound), p.claimed, p.addresses, st.alloc != nil)
		var usage []ipam.PoolUsage
		if st.alloc != nil {
			usage = st.alloc.Usage()
		}
		c.deps.Observer.SetPoolUsage(usage)
	}
}

// forget drops the entries that hold nothing any more, so the state stays
// the size of what exists.
func (c *Controller) forget() {
	now := c.now()
	for k, ks := range c.st.keys {
		if ks.idle(now) {
			delete(c.st.keys, k)
		}
	}
	for n, p := range c.st.peers {
		if !p.seen && !p.checking && p.verified == "" {
			delete(c.st.peers, n)
		}
	}
}

func (c *Controller) logBound(before, after []netip.Addr, took time.Duration) {
	var added, removed []netip.Addr
	for _, a := range after {
		if !slices.Contains(before, a) {
			added = append(added, a)
		}
	}
	for _, a := range before {
		if !slices.Contains(after, a) {
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
// node Lease. When that read is still to be made, it names the node.
func (c *Controller) mayTakeFrom(holder string) (ok bool, check string) {
	if holder == "" || holder == c.cfg.Node {
		return true, ""
	}
	want := goneRV
	p := c.st.peers[holder]
	if p != nil && p.seen {
		if p.holder != holder {
			return true, "" // released
		}
		want = p.rv
	}
	if p != nil && p.verified == want {
		return true, ""
	}
	if p != nil && p.checking {
		return false, ""
	}
	return false, holder
}

// checkNode reads node's Lease at quorum in the background; the answer
// reaches the loop as a nodeChecked.
func (c *Controller) checkNode(ctx context.Context, node string) {
	c.st.peer(node).checking = true
	c.writes.Add(1)
	go func() {
		defer c.writes.Done()
		res := nodeChecked{node: node}
		l, err := c.deps.Client.CoordinationV1().Leases(c.cfg.Namespace).Get(ctx, NodeLeasePrefix+node, metav1.GetOptions{})
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

func (c *Controller) mayWrite(key string, now time.Time) bool {
	ks := c.st.keys[key]
	return ks == nil || !ks.inflight && now.Sub(ks.failedAt) >= retryAfter
}

func (c *Controller) claimOf(key string) owner.Claim {
	cl := c.st.claim(key)
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
		if ks := st.key(a.String()); ks.probeAt.IsZero() {
			ks.probeAt = now
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
