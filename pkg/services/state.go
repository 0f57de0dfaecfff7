package services

import (
	"net/netip"
	"strconv"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"

	"github.com/vipkeeper/vipkeeper/pkg/election"
	"github.com/vipkeeper/vipkeeper/pkg/services/ipam"
)

// state is the loop's: only the goroutine running loop touches it.
type state struct {
	healthy    bool
	candidate  bool         // what the node Lease was last told
	relist     bool         // the informers are to be restarted
	pendingSet *informerSet // a restarted set waiting for its first lists
	apiUp      bool
	apiBack    time.Time // when the API server was last seen coming back

	// This node's own Lease.
	leading   bool
	term      uint64
	lostUpTo  uint64
	lastRenew time.Time // send time of our last successful node Lease write

	nodes  map[string]*nodeSeen  // other nodes' Leases, by node name
	claims map[string]*claimSeen // claim Leases by key

	bound      []netip.Addr             // what the binder was last given
	binderDown bool                     // the binder refused the last set: we are shutting down
	probed     map[netip.Addr]bool      // passed the pre-bind probe under the current claim
	probeAt    map[netip.Addr]time.Time // first probe under the current claim
	probing    bool
	yielded    map[netip.Addr]bool // claimed on the wire by another host while we rode through
	inflight   map[string]bool     // claim writes under way, by key
	failedAt   map[string]time.Time
	// confirmed: the node Lease term in which our own write named us in
	// the claim of a key; cleared when we release our node Lease. A claim
	// naming us that we never wrote (handed to us) is written again before
	// we bind it; one from an earlier term (our Lease lapsed, never
	// released) stays bound while it is written again, and yields to a
	// claim on the wire meanwhile.
	confirmed map[string]uint64
	// verified: for a node whose Lease looks expired, the resourceVersion
	// a quorum read confirmed unchanged; claims are taken from it only
	// then, so a lagging watch cannot make us take from a live node.
	verified map[string]string
	checking map[string]bool

	// Allocator role; alloc is nil unless this node holds it.
	alloc        *ipam.Allocator
	allocated    map[string][]netip.Addr // what the allocator gave each Service key
	allocSeen    map[string]string       // resourceVersion of each Service the allocator handled
	statusBusy   map[string]bool         // status writes under way
	statusWrote  map[string]uint64       // resourceVersion our last status write produced
	warned       map[string]string       // last Warning reason per Service key
	statusFailed map[string]time.Time
}

func newState(healthy bool) state {
	return state{
		healthy:      healthy,
		apiUp:        true,
		nodes:        map[string]*nodeSeen{},
		claims:       map[string]*claimSeen{},
		probed:       map[netip.Addr]bool{},
		probeAt:      map[netip.Addr]time.Time{},
		yielded:      map[netip.Addr]bool{},
		inflight:     map[string]bool{},
		failedAt:     map[string]time.Time{},
		confirmed:    map[string]uint64{},
		verified:     map[string]string{},
		checking:     map[string]bool{},
		statusBusy:   map[string]bool{},
		statusWrote:  map[string]uint64{},
		warned:       map[string]string{},
		statusFailed: map[string]time.Time{},
	}
}

// nodeSeen is another node's Lease as this node observed it. changed is
// our own clock's reading when we last saw its resourceVersion change: a
// node is fresh while that is less than a lease duration ago.
type nodeSeen struct {
	holder  string
	rv      string
	changed time.Time
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
	st := &c.st
	switch e.Kind {
	case election.Elected:
		if e.Term <= st.lostUpTo {
			return
		}
		st.lostUpTo = max(st.lostUpTo, e.Term-1)
		st.leading, st.term = true, e.Term
		c.log.Info("node Lease held", "term", e.Term)
	case election.Lost:
		st.lostUpTo = max(st.lostUpTo, e.Term)
		if st.leading && st.term <= e.Term {
			st.leading = false
			c.log.Warn("node Lease lost", "term", e.Term)
		}
	case election.Renewed:
		if e.At.After(st.lastRenew) {
			st.lastRenew = e.At
		}
	}
}

type healthEvent bool

func (e healthEvent) apply(c *Controller) {
	if c.st.healthy == bool(e) {
		return
	}
	// The loop's next pass unbinds (self is not fresh when unhealthy),
	// and only then does it withdraw the candidacy, which releases the
	// node Lease so that peers take over at once.
	c.st.healthy = bool(e)
}

type apiEvent bool

func (e apiEvent) apply(c *Controller) {
	st := &c.st
	if bool(e) && !st.apiUp {
		// Blind gap: while we could not read, others could not renew where
		// we would see it. Their clocks restart now, so nobody's addresses
		// are taken for a missed renewal we could not have observed.
		now := c.now()
		st.apiBack = now
		for _, n := range st.nodes {
			n.changed = now
		}
		st.relist = true
	}
	st.apiUp = bool(e)
}

type drainEvent struct{}

func (drainEvent) apply(c *Controller) { c.st.binderDown = true }

type wireClaimEvent netip.Addr

func (e wireClaimEvent) apply(c *Controller) {
	addr := netip.Addr(e)
	st := &c.st
	if !containsAddr(st.bound, addr) {
		return
	}
	if term, ok := st.confirmed[addr.String()]; ok && term == st.term && c.strictlyFresh(c.now()) {
		c.log.Warn("another host claims a Service VIP we hold under a valid claim; keeping it", "vip", addr)
		return
	}
	c.log.Warn("another host claims a Service VIP we hold only by riding through or by an earlier term's claim; yielding it", "vip", addr)
	st.yielded[addr] = true
}

type leaseEvent struct {
	lease   *coordinationv1.Lease
	deleted bool
}

func (e leaseEvent) apply(c *Controller) {
	st := &c.st
	if node, ok := nodeOf(e.lease); ok {
		if node == c.cfg.Node {
			return // our own: the node Lease's events tell us more
		}
		if e.deleted {
			delete(st.nodes, node)
			return
		}
		holder := ""
		if h := e.lease.Spec.HolderIdentity; h != nil {
			holder = *h
		}
		n := st.nodes[node]
		if n == nil {
			n = &nodeSeen{}
			st.nodes[node] = n
		}
		if n.rv != e.lease.ResourceVersion {
			n.rv, n.holder, n.changed = e.lease.ResourceVersion, holder, c.now()
		}
		return
	}
	key, ok := isClaim(e.lease)
	if !ok {
		return
	}
	rv := rvOf(e.lease.ResourceVersion)
	cur := st.claims[key]
	if cur != nil && rv != 0 && rv < cur.rv {
		return // older than what our own write returned
	}
	if e.deleted {
		delete(st.claims, key)
		return
	}
	st.claims[key] = &claimSeen{lease: e.lease, rv: rv}
}

// claimWritten is the result of a claim write of ours.
type claimWritten struct {
	key     string
	term    uint64                // our node Lease term when the write was sent
	self    bool                  // the write names us
	lease   *coordinationv1.Lease // nil after a delete or an error
	deleted bool
	err     error
	// refreshed: the write failed on an old copy and lease is the claim
	// as read afterwards, not our write.
	refreshed bool
}

func (e claimWritten) apply(c *Controller) {
	st := &c.st
	delete(st.inflight, e.key)
	switch {
	case e.err != nil:
		st.failedAt[e.key] = c.now()
	case e.deleted:
		delete(st.claims, e.key)
	case e.lease != nil:
		if e.self && !e.refreshed {
			st.confirmed[e.key] = e.term
		}
		rv := rvOf(e.lease.ResourceVersion)
		if cur := st.claims[e.key]; cur == nil || rv == 0 || rv >= cur.rv {
			st.claims[e.key] = &claimSeen{lease: e.lease, rv: rv}
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
	st := &c.st
	delete(st.checking, e.node)
	if e.err != nil {
		return // try again on a later pass
	}
	n := st.nodes[e.node]
	switch {
	case e.lease == nil:
		delete(st.nodes, e.node)
		st.verified[e.node] = goneRV
	case n != nil && n.rv == e.lease.ResourceVersion:
		st.verified[e.node] = n.rv
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
	delete(c.st.statusBusy, e.key)
	if e.err != nil {
		c.st.statusFailed[e.key] = c.now()
		return
	}
	c.st.statusWrote[e.key] = e.rv
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
		if !containsAddr(e.answered, a) {
			st.probed[a] = true
			continue
		}
		if now.Sub(st.probeAt[a]) >= c.cfg.ProbeBudget {
			c.log.Warn("Service VIP still answered by another host after the probe budget; taking it anyway", "vip", a)
			st.probed[a] = true
		}
	}
}

func containsAddr(s []netip.Addr, a netip.Addr) bool {
	for _, x := range s {
		if x == a {
			return true
		}
	}
	return false
}
