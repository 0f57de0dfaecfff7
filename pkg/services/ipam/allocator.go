package ipam

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// Allocation is what a Service holds.
type Allocation struct {
	Key   string
	Addrs []netip.Addr // primary family first
	Pools []string     // Pools[i] is the pool of Addrs[i]
}

// entry is one Service's holding.
type entry struct {
	key, namespace     string
	sharing, placement string
	ports              []Port // sorted, no duplicates
	addrs              []netip.Addr
	pools              []string
}

// claim is one address in use.
type claim struct {
	pool    *pool
	span    *span
	holders []*entry // sorted by key; more than one only when shared
}

// Allocator hands out addresses from its pools. It is safe for concurrent
// use; every method takes the lock for its whole duration and none calls
// out.
type Allocator struct {
	pools  []*pool // configuration order
	byName map[string]*pool

	mu        sync.Mutex // guards the fields below and the pools' spans
	inUse     map[netip.Addr]*claim
	keys      map[string]*entry
	bySharing map[string]map[netip.Addr]int // sharing key → address → holders with that key
}

// New validates the pools and returns an Allocator with nothing allocated.
// An error names the pool and the item at fault and wraps ErrInvalidPool.
// The addresses of excl (HostExclusions), and those excluded always
// (IPv4-compatible IPv6), are never handed out; Exclusions lists those
// that fall in a pool.
func New(specs []PoolSpec, excl ...Exclusion) (*Allocator, error) {
	pools, err := compilePools(specs, append(slices.Clone(alwaysExcluded), excl...))
	if err != nil {
		return nil, err
	}
	a := &Allocator{
		pools:     pools,
		byName:    map[string]*pool{},
		inUse:     map[netip.Addr]*claim{},
		keys:      map[string]*entry{},
		bySharing: map[string]map[netip.Addr]int{},
	}
	for _, p := range pools {
		a.byName[p.name] = p
	}
	return a, nil
}

// Allocate gives req.Key addresses for req, one per family, and returns
// them. Addresses the key already holds are kept where they still satisfy
// the request, so calling Allocate again with the same request returns the
// same addresses. On error nothing changes: the key keeps what it held.
// Errors are *AllocationError.
func (a *Allocator) Allocate(req Request) (Allocation, error) {
	e, err := normalize(req)
	if err != nil {
		return Allocation{}, err
	}
	ws, err := wants(req)
	if err != nil {
		return Allocation{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.keys[req.Key]
	var picks []*claim
	var addrs []netip.Addr
	for _, w := range ws {
		addr, c, err := a.pick(w, e, old, req.Pool)
		if err != nil {
			return Allocation{}, err
		}
		if c != nil {
			addrs, picks = append(addrs, addr), append(picks, c)
		}
	}
	a.commit(e, addrs, picks)
	return e.allocation(), nil
}

// pick chooses the address for one family: the requested one, else one
// the key holds and may keep, else the lowest candidate of the first
// eligible pool. It returns a nil claim for an optional family that cannot
// be filled.
func (a *Allocator) pick(w want, e, old *entry, poolName string) (netip.Addr, *claim, error) {
	if w.addr.IsValid() {
		c, err := a.check(w.addr, e, poolName)
		if err == nil && (old == nil || !slices.Contains(old.addrs, w.addr)) {
			if x, ok := c.span.excluded(w.addr); ok {
				return netip.Addr{}, nil, &AllocationError{Err: ErrExcluded, Addr: w.addr,
					Reason: fmt.Sprintf("%s is not handed out: it is %s", w.addr, x.Why)}
			}
		}
		return w.addr, c, err
	}
	if old != nil {
		for _, x := range old.addrs {
			if x.Is4() == w.v4 {
				if c, err := a.check(x, e, poolName); err == nil {
					return x, c, nil
				}
			}
		}
	}
	pools, err := a.eligible(e.namespace, poolName)
	if err != nil {
		return netip.Addr{}, nil, err
	}
	var names []string
	for _, p := range pools {
		if !slices.ContainsFunc(p.spans, func(s *span) bool { return s.r.First.Is4() == w.v4 }) {
			continue
		}
		names = append(names, fmt.Sprintf("%q", p.name))
		if x, s, ok := a.candidate(p, w.v4, e); ok {
			return x, &claim{pool: p, span: s}, nil
		}
	}
	if !w.required {
		return netip.Addr{}, nil, nil
	}
	if len(names) == 0 {
		return netip.Addr{}, nil, &AllocationError{Err: ErrFamilyUnavailable,
			Reason: fmt.Sprintf("no address pool offers %s addresses to namespace %q", family(w.v4), e.namespace)}
	}
	what := "free"
	if e.sharing != "" {
		what = "free or shareable"
	}
	return netip.Addr{}, nil, &AllocationError{Err: ErrPoolExhausted,
		Reason: fmt.Sprintf("no %s %s address left in pool %s", what, family(w.v4), strings.Join(names, ", "))}
}

// eligible returns the pools namespace may allocate from, in order.
func (a *Allocator) eligible(namespace, poolName string) ([]*pool, error) {
	if poolName != "" {
		p := a.byName[poolName]
		switch {
		case p == nil:
			return nil, &AllocationError{Err: ErrUnknownPool, Reason: fmt.Sprintf("no address pool is named %q", poolName)}
		case !p.allows(namespace):
			return nil, &AllocationError{Err: ErrPoolNotAllowed,
				Reason: fmt.Sprintf("address pool %q may not be used by namespace %q", poolName, namespace)}
		}
		return []*pool{p}, nil
	}
	var pools []*pool
	for _, p := range a.pools {
		if p.allows(namespace) && !p.manual {
			pools = append(pools, p)
		}
	}
	return pools, nil
}

// candidate returns the lowest address of family v4 in p that e may take:
// a free one, or, with a sharing key, one shared under that key.
func (a *Allocator) candidate(p *pool, v4 bool, e *entry) (netip.Addr, *span, bool) {
	var best netip.Addr
	var bestSpan *span
	for _, s := range p.spans {
		if s.r.First.Is4() != v4 {
			continue
		}
		if x, ok := s.lowest(a.used); ok {
			best, bestSpan = x, s
			break // spans are sorted: the first free address is the pool's lowest
		}
	}
	for x := range a.bySharing[e.sharing] {
		c := a.inUse[x]
		if _, excluded := c.span.excluded(x); excluded {
			continue // a restored holding; not handed out again
		}
		if x.Is4() == v4 && c.pool == p && a.conflict(x, c, e) == nil && (!best.IsValid() || x.Less(best)) {
			best, bestSpan = x, c.span
		}
	}
	return best, bestSpan, best.IsValid()
}

func (a *Allocator) used(x netip.Addr) bool { _, ok := a.inUse[x]; return ok }

// check decides whether e may hold x, and returns x's pool and span.
func (a *Allocator) check(x netip.Addr, e *entry, poolName string) (*claim, error) {
	p, s := a.locate(x)
	switch {
	case s == nil:
		for _, p := range a.pools {
			for _, s := range p.spans {
				if s.r.Prefix.Contains(x) {
					return nil, &AllocationError{Err: ErrNotInPool, Addr: x, Reason: fmt.Sprintf(
						"%s is the network or broadcast address of %s in pool %q and is never handed out", x, s.r.Prefix, p.name)}
				}
			}
		}
		return nil, &AllocationError{Err: ErrNotInPool, Addr: x, Reason: fmt.Sprintf("%s is not in any address pool", x)}
	case poolName != "" && p.name != poolName:
		return nil, &AllocationError{Err: ErrNotInPool, Addr: x,
			Reason: fmt.Sprintf("%s is in pool %q, not in the requested pool %q", x, p.name, poolName)}
	case !p.allows(e.namespace):
		return nil, &AllocationError{Err: ErrPoolNotAllowed, Addr: x,
			Reason: fmt.Sprintf("%s is in pool %q, which namespace %q may not use", x, p.name, e.namespace)}
	}
	if c := a.inUse[x]; c != nil {
		if err := a.conflict(x, c, e); err != nil {
			return nil, err
		}
	}
	return &claim{pool: p, span: s}, nil
}

// conflict returns why e may not join the holders of x, or nil.
func (a *Allocator) conflict(x netip.Addr, c *claim, e *entry) *AllocationError {
	for _, h := range c.holders {
		if h.key == e.key {
			continue
		}
		if e.sharing == "" || h.sharing != e.sharing {
			return &AllocationError{Err: ErrAddressInUse, Addr: x, Holder: h.key,
				Reason: fmt.Sprintf("%s is already used by %s and they do not share a key", x, h.key)}
		}
		if h.placement != e.placement {
			return &AllocationError{Err: ErrPlacementConflict, Addr: x, Holder: h.key, Reason: fmt.Sprintf(
				"%s is shared with %s, which must be announced from other nodes (externalTrafficPolicy or selector differ)", x, h.key)}
		}
		for _, p := range e.ports {
			if _, found := slices.BinarySearchFunc(h.ports, p, comparePort); found {
				return &AllocationError{Err: ErrPortConflict, Addr: x, Holder: h.key,
					Reason: fmt.Sprintf("%s is shared with %s, which already uses %s", x, h.key, p)}
			}
		}
	}
	return nil
}

// locate returns the pool and span that contain x.
func (a *Allocator) locate(x netip.Addr) (*pool, *span) {
	for _, p := range a.pools {
		for _, s := range p.spans {
			if s.r.Contains(x) {
				return p, s
			}
		}
	}
	return nil, nil
}

// Restore claims addrs for req.Key as they are, e.g. from a Service's
// status.loadBalancer.ingress after a restart. It checks what Allocate
// checks for a requested address — in a pool the namespace may use (and
// req.Pool, if set), not held by a Service that does not share it, no port
// or placement conflict — but ignores req's family fields and Addresses.
// It replaces what the key held. On error nothing changes.
func (a *Allocator) Restore(req Request, addrs []netip.Addr) (Allocation, error) {
	e, err := normalize(req)
	if err != nil {
		return Allocation{}, err
	}
	if len(addrs) == 0 {
		return Allocation{}, invalid("nothing to restore for %s", req.Key)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	picks := make([]*claim, len(addrs))
	for i, x := range addrs {
		if !x.IsValid() || x.Zone() != "" || x.Is4In6() {
			return Allocation{}, invalid("%q is not a plain IP address", x)
		}
		if slices.ContainsFunc(addrs[:i], func(y netip.Addr) bool { return y.Is4() == x.Is4() }) {
			return Allocation{}, invalid("%s: more than one %s address to restore", req.Key, family(x.Is4()))
		}
		if picks[i], err = a.check(x, e, req.Pool); err != nil {
			return Allocation{}, err
		}
	}
	a.commit(e, addrs, picks)
	return e.allocation(), nil
}

// commit makes e the holding of e.key: addrs[i] from picks[i]'s pool.
func (a *Allocator) commit(e *entry, addrs []netip.Addr, picks []*claim) {
	if old := a.keys[e.key]; old != nil {
		a.drop(old, addrs)
	}
	e.addrs = slices.Clone(addrs)
	e.pools = make([]string, len(addrs))
	for i, x := range addrs {
		c := a.inUse[x]
		if c == nil {
			c = picks[i]
			a.inUse[x] = c
			c.span.claimed()
		}
		e.pools[i] = c.pool.name
		i, _ := slices.BinarySearchFunc(c.holders, e.key, func(h *entry, k string) int { return strings.Compare(h.key, k) })
		c.holders = slices.Insert(c.holders, i, e)
		if e.sharing != "" {
			if a.bySharing[e.sharing] == nil {
				a.bySharing[e.sharing] = map[netip.Addr]int{}
			}
			a.bySharing[e.sharing][x]++
		}
	}
	a.keys[e.key] = e
}

// drop removes old from its addresses; an address left without holders is
// freed unless it is in keep.
func (a *Allocator) drop(old *entry, keep []netip.Addr) {
	for _, x := range old.addrs {
		c := a.inUse[x]
		c.holders = slices.DeleteFunc(c.holders, func(h *entry) bool { return h == old })
		if m := a.bySharing[old.sharing]; old.sharing != "" {
			m[x]--
			if m[x] == 0 {
				delete(m, x)
			}
			if len(m) == 0 {
				delete(a.bySharing, old.sharing)
			}
		}
		if len(c.holders) == 0 && !slices.Contains(keep, x) {
			delete(a.inUse, x)
			c.span.released(x)
		}
	}
	delete(a.keys, old.key)
}

// Release frees what key holds; an address shared with others stays in
// use by them. It reports whether key held anything.
func (a *Allocator) Release(key string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.keys[key]
	if e != nil {
		a.drop(e, nil)
	}
	return e != nil
}

// None returns an Allocator without pools: every request fails, no
// address is in a pool. Services mode with pool objects starts from it
// until the first valid AddressPool exists.
func None() *Allocator {
	return &Allocator{
		byName:    map[string]*pool{},
		inUse:     map[netip.Addr]*claim{},
		keys:      map[string]*entry{},
		bySharing: map[string]map[netip.Addr]int{},
	}
}
