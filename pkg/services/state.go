package services

import (
	"net/netip"
	"slices"
	"strconv"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/vipkeeper/vipkeeper/pkg/election"
	"github.com/vipkeeper/vipkeeper/pkg/services/ipam"
	"github.com/vipkeeper/vipkeeper/pkg/services/owner"
	"github.com/vipkeeper/vipkeeper/pkg/services/pools"
	"github.com/vipkeeper/vipkeeper/pkg/tenure"
)

// state is the loop's: only the goroutine running loop touches it. What
// the loop knows is kept in one struct per kind of key: per claim key
// (an address, or the allocator role), per other node, per Service.
type state struct {
	// tenure is this node's standing on its own node Lease: the same
	// rules as the control-plane VIP's (pkg/tenure).
	tenure     *tenure.Tenure
	candidate  bool         // what the node Lease was last told
	relist     bool         // the informers are to be restarted
	pendingSet *informerSet // a restarted set waiting for its first lists

	bound      []netip.Addr // what the binder was last given
	boundUntil time.Time    // and their deadline
	binderDown bool         // the binder refused the last set: we are shutting down
	probing    bool         // a pre-bind probe is under way

	keys  map[string]*keyState  // by claim key
	peers map[string]*peerState // other nodes, by node name
	svcs  map[string]*svcState  // by Service key (namespace/name)

	alloc *ipam.Allocator // the allocator role; nil unless this node holds it

	// byAddr: the Services of ours holding each address, as of the last
	// pass (announcerChanged names them).
	byAddr map[netip.Addr][]*corev1.Service

	// Pool objects: the objects changed since the last reloadPools; the
	// verdicts of the last one; the allocator's status writes per pool.
	poolsDirty  bool
	poolsDiffer bool // this node's flag pools differ from the allocator's (checkPools)
	verdicts    map[string]pools.Verdict
	poolWrites  map[string]*poolWrite

	// Interface per pool (ifaces.go): this node's links by interface
	// (absent: not reported yet), and the routes the links were given.
	linksUp map[string]bool
	routed  map[netip.Addr]string
	// ownLinksDown: what our own node Lease says (AnnotationLinksDown);
	// nil until we have seen it.
	ownLinksDown *[]string
}

func newState(rules tenure.Config, healthy bool) state {
	return state{
		tenure: tenure.New(rules, healthy),
		keys:   map[string]*keyState{},
		peers:  map[string]*peerState{},
		svcs:   map[string]*svcState{},

		poolWrites: map[string]*poolWrite{},
		linksUp:    map[string]bool{},
	}
}

// keyState is what the loop knows of one claim key.
type keyState struct {
	claim    *claimSeen // the claim Lease; nil if none is known
	inflight bool       // a claim write is under way
	failedAt time.Time  // when the last claim write failed
	// confirmed is the node Lease term in which our own write named us in
	// the claim (0: none); cleared when we release our node Lease. A claim
	// naming us that we never wrote (handed to us) is written again before
	// we bind it; one from an earlier term (our Lease lapsed, never
	// released) stays bound while it is written again, and yields to a
	// claim on the wire meanwhile.
	confirmed uint64
	// For an address: its pre-bind probe under the current claim.
	probeAt time.Time // first probe; zero if none yet
	probed  bool      // passed the probe
	yielded bool      // claimed on the wire by another host while we held it provisionally
}

// idle reports whether the entry holds nothing worth keeping.
func (k *keyState) idle(now time.Time) bool {
	return k.claim == nil && !k.inflight && k.confirmed == 0 && k.probeAt.IsZero() &&
		!k.probed && !k.yielded && now.Sub(k.failedAt) >= retryAfter
}

// resetProbe forgets the probe of an address that is no longer ours to
// bind: a later claim probes again.
func (k *keyState) resetProbe() { k.probeAt, k.probed, k.yielded = time.Time{}, false, false }

// peerState is another node's Lease as this node observed it. changed is
// our own clock's reading when we last saw its resourceVersion change: a
// node is fresh while that is less than a lease duration ago.
type peerState struct {
	seen    bool // its Lease exists in our view
	holder  string
	rv      string
	changed time.Time
	// verified: for a node whose Lease looks expired, the resourceVersion
	// a quorum read confirmed unchanged (goneRV: no Lease); claims are
	// taken from it only then, so a lagging watch cannot make us take from
	// a live node.
	verified string
	checking bool // a quorum read is under way
	// linksDown: the pool interfaces its Lease says are down
	// (AnnotationLinksDown).
	linksDown []string
}

// svcState is what the allocator and the status writer know of one
// Service.
type svcState struct {
	allocated    []netip.Addr // what the allocator gave it; nil if nothing
	seen         string       // resourceVersion the allocator handled
	warned       string       // last Warning reason
	statusBusy   bool         // a status write is under way
	statusWrote  uint64       // resourceVersion our last status write produced
	statusFailed time.Time
}

func (st *state) key(k string) *keyState {
	ks := st.keys[k]
	if ks == nil {
		ks = &keyState{}
		st.keys[k] = ks
	}
	return ks
}

func (st *state) peer(n string) *peerState {
	p := st.peers[n]
	if p == nil {
		p = &peerState{}
		st.peers[n] = p
	}
	return p
}

func (st *state) svc(k string) *svcState {
	s := st.svcs[k]
	if s == nil {
		s = &svcState{}
		st.svcs[k] = s
	}
	return s
}

// claim is the claim Lease of key as the loop knows it, or nil.
func (st *state) claim(key string) *claimSeen {
	if ks := st.keys[key]; ks != nil {
		return ks.claim
	}
	return nil
}

// claimSeen is a claim Lease: the newest of what the informer delivered
// and what our own writes returned.
type claimSeen struct {
	lease *coordinationv1.Lease
	rv    uint64
}

func (c *claimSeen) holder() string {
	if c == nil || c.lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *c.lease.Spec.HolderIdentity
}

// rvOf parses a resourceVersion. They are opaque by contract but decimal
// etcd revisions in every API server; 0 means unknown, always older.
func rvOf(s string) uint64 {
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}

// event is one input of the loop.
type event interface {
	apply(c *Controller)
}

type nodeLeaseEvent election.Event

func (e nodeLeaseEvent) apply(c *Controller) {
	switch c.st.tenure.Election(election.Event(e)) {
	case tenure.Began:
		c.log.Info("node Lease held", "term", e.Term)
	case tenure.Ended:
		c.log.Warn("node Lease lost", "term", e.Term)
	}
}

type healthEvent bool

// apply records the node's health. The loop's next pass unbinds (the
// tenure refuses an unhealthy node), and only then does it withdraw the
// candidacy, which releases the node Lease so that peers take over at
// once.
func (e healthEvent) apply(c *Controller) { c.st.tenure.SetHealthy(bool(e)) }

type apiEvent bool

func (e apiEvent) apply(c *Controller) {
	st := &c.st
	now := c.now()
	if st.tenure.SetAPI(bool(e), now) {
		// Blind gap: while we could not read, others could not renew where
		// we would see it. Their clocks restart now, so nobody's addresses
		// are taken for a missed renewal we could not have observed.
		for _, p := range st.peers {
			p.changed = now
		}
		st.relist = true
	}
}

type witnessEvent time.Time

// apply records the evidence; the next pass asks the tenure again.
func (e witnessEvent) apply(c *Controller) { c.st.tenure.Witness(time.Time(e)) }

type drainEvent struct{}

func (drainEvent) apply(c *Controller) { c.st.binderDown = true }

type wireClaimEvent netip.Addr

func (e wireClaimEvent) apply(c *Controller) {
	addr := netip.Addr(e)
	st := &c.st
	if !slices.Contains(st.bound, addr) {
		return
	}
	ks := st.key(addr.String())
	if st.tenure.KeepAgainst(c.now(), ks.confirmed) {
		c.log.Warn("another host claims a Service VIP we hold under a valid claim; keeping it", "vip", addr)
		return
	}
	c.log.Warn("another host claims a Service VIP we hold only by riding through or by an earlier term's claim; yielding it", "vip", addr)
	ks.yielded = true
}

type leaseEvent struct {
	lease   *coordinationv1.Lease
	deleted bool
}

func (e leaseEvent) apply(c *Controller) {
	st := &c.st
	if node, ok := nodeOf(e.lease); ok {
		if node == c.cfg.Node {
			// Our own: the node Lease's events tell us more, but what
			// it publishes is read from here, as every peer reads it.
			if !e.deleted {
				down := parseLinksDown(e.lease.Annotations[AnnotationLinksDown])
				st.ownLinksDown = &down
			}
			return
		}
		p := st.peer(node)
		if e.deleted {
			p.seen, p.holder, p.rv = false, "", ""
			return
		}
		holder := ""
		if h := e.lease.Spec.HolderIdentity; h != nil {
			holder = *h
		}
		if !p.seen || p.rv != e.lease.ResourceVersion {
			p.seen, p.rv, p.holder, p.changed = true, e.lease.ResourceVersion, holder, c.now()
			p.linksDown = parseLinksDown(e.lease.Annotations[AnnotationLinksDown])
		}
		return
	}
	key, ok := isClaim(e.lease)
	if !ok {
		return
	}
	rv := rvOf(e.lease.ResourceVersion)
	ks := st.key(key)
	if ks.claim != nil && rv != 0 && rv < ks.claim.rv {
		return // older than what our own write returned
	}
	if e.deleted {
		ks.claim = nil
		return
	}
	ks.claim = &claimSeen{lease: e.lease, rv: rv}
}

// claimWritten is the result of a claim write of ours.
type claimWritten struct {
	key     string
	term    uint64                // our node Lease term when the write was sent
	action  owner.Action          // Take, Handoff or Delete
	from    string                // the holder the write replaced
	to      string                // for a Handoff: the new holder
	created bool                  // the claim did not exist: a new address
	self    bool                  // the write names us
	lease   *coordinationv1.Lease // nil after a delete or an error
	deleted bool
	err     error
	// refreshed: the write failed on an old copy and lease is the claim
	// as read afterwards, not our write.
	refreshed bool
}

func (e claimWritten) apply(c *Controller) {
	ks := c.st.key(e.key)
	ks.inflight = false
	switch {
	case e.err != nil:
		ks.failedAt = c.now()
	case e.deleted:
		ks.claim = nil
	case e.lease != nil:
		if !e.refreshed {
			c.announcerChanged(e)
		}
		if e.self && !e.refreshed {
			ks.confirmed = e.term
			if ks.yielded {
				// It yielded while held provisionally; now the claim is
				// ours in this term (our compare-and-swap won): probe
				// and bind it again.
				ks.resetProbe()
			}
		}
		rv := rvOf(e.lease.ResourceVersion)
		if ks.claim == nil || rv == 0 || rv >= ks.claim.rv {
			ks.claim = &claimSeen{lease: e.lease, rv: rv}
		}
	}
}

// nodeChecked is the result of a quorum read of another node's Lease.
type nodeChecked struct {
	node  string
	lease *coordinationv1.Lease // nil if it does not exist
	err   error
}

func (e nodeChecked) apply(c *Controller) {
	p := c.st.peer(e.node)
	p.checking = false
	switch {
	case e.err != nil:
		return // try again on a later pass
	case e.lease == nil:
		p.seen, p.holder, p.rv = false, "", ""
		p.verified = goneRV
	case p.seen && p.rv == e.lease.ResourceVersion:
		p.verified = p.rv
	default:
		// Our watch lags: the node renewed since what we saw.
		c.log.Info("node Lease changed behind our watch; not taking its claims", "node", e.node)
		leaseEvent{lease: e.lease}.apply(c)
	}
}

// goneRV marks a verified node whose Lease does not exist.
const goneRV = "gone"

// statusWritten is the result of a status write of ours.
type statusWritten struct {
	key string
	rv  uint64
	err error
}

func (e statusWritten) apply(c *Controller) {
	s := c.st.svc(e.key)
	s.statusBusy = false
	if e.err != nil {
		s.statusFailed = c.now()
		return
	}
	s.statusWrote = e.rv
}

// probeDone ends a pre-bind probe of addrs; answered are those another
// host still answered for.
type probeDone struct {
	addrs, answered []netip.Addr
}

func (e probeDone) apply(c *Controller) {
	st := &c.st
	st.probing = false
	now := c.now()
	for _, a := range e.addrs {
		ks := st.key(a.String())
		switch st.tenure.Probe(ks.probeAt, now, slices.Contains(e.answered, a)) {
		case tenure.BindContested:
			c.log.Error("Service VIP still answered by another host after waiting as long as any earlier holder can keep it; binding over it", "vip", a)
			ks.probed = true
		case tenure.Bind:
			ks.probed = true
		}
	}
}
