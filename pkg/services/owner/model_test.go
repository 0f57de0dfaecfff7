package owner

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// The model of the simulation (tests in simulation_test.go): three nodes, a claim store with compare-and-swap on a
// resourceVersion, and per-node views that lag. Each run delivers a random
// interleaving (seeded, so a failure replays) of
//
//   - a node dying, a node turning unhealthy (and, in some runs, healthy
//     again after it released its node Lease),
//   - Service changes (a key wanted or not, the endpoints of a Restricted
//     key), delivered to each node separately,
//   - the Lease watch delivering the next claim or node-Lease event to a
//     node,
//   - a node running Decide and carrying out its verdict on one key,
//
// and checks after every step that no key is bound by two nodes and that a
// bound key's claim in the store names its binder; after the events, that
// the nodes converge on one binder per key, the owner in every view.
//
// The model of the real system, and what the model assumes of it:
//
//   - Claims and node Leases are Leases in one namespace, seen through one
//     watch: each node's view is a prefix of one global history (watch).
//     Freshness is read from that stream too: a node is seen not fresh at
//     the point of the stream where its Lease was released or its expiry
//     became certain. The environment emits "expired" only after the dead
//     node stopped binding, which the real system gets from timing
//     (docs/services.md: U < M) measured against the watch's own progress,
//     not against a wall clock that a lagging watch can fool.
//   - A node's own successful write updates its cache at once
//     (write-through) and reaches its watch later.
//   - A node binds a key exactly while its latest Decision for it is Bind,
//     and stops binding everything the moment it dies or turns unhealthy.
//
// and two rules of the caller that Decide cannot see, which the runs with
// recovery need (TestSimulationCallerRules shows each is needed):
//
//   - rewriteStale: after a node re-took its node Lease (a new term), a
//     claim naming it that was written before the new term is not trusted:
//     on Bind it first rewrites the claim (a CAS naming itself). Others may
//     have seen it released and taken the claim meanwhile.
//   - guardAhead: a node does not Take (or janitor-Delete) a key whose
//     cached claim is its own write not yet echoed by its watch: its view of
//     the other nodes is older than that claim.
type simRules struct {
	recover      bool
	rewriteStale bool
	guardAhead   bool
}

var safeRules = simRules{recover: true, rewriteStale: true, guardAhead: true}

type simClaim struct {
	exists bool
	holder string
	rv     int // resourceVersion of its last write
}

// watchEvent is one event of the Lease watch: a claim write (key set) or
// a node Lease change (node set; live false = released or expired).
type watchEvent struct {
	rv    int
	key   string
	claim simClaim
	node  string
	live  bool
}

// svcEvent is one Service / EndpointSlice change.
type svcEvent struct {
	key      string
	wanted   bool
	eligible []string
}

type simNode struct {
	name           string
	alive, healthy bool
	term           int // rv of its current node-Lease acquisition
	pos            int // watch events delivered
	svcPos         int // svc events delivered
	fresh          map[string]bool
	cache          map[string]simClaim
	wanted         map[string]bool
	eligible       map[string][]string
	binding        map[string]bool
}

type simKey struct {
	key        string
	restricted bool
}

type envEvent struct {
	name  string
	apply func()
}

type simStats struct {
	actions                   [Delete + 1]int
	conflicts, rewrites, held int
}

type sim struct {
	rules    simRules
	rng      *rand.Rand
	keys     []simKey
	nodes    []*simNode
	store    map[string]simClaim
	rv       int
	watch    []watchEvent
	svc      []svcEvent
	wanted   map[string]bool     // truth
	eligible map[string][]string // truth
	pending  []envEvent
	trace    []string
	stats    simStats
}

var simNodes = []string{"a", "b", "c"}

func newSim(seed uint64, rules simRules) *sim {
	s := &sim{
		rules:    rules,
		rng:      rand.New(rand.NewPCG(seed, 0x5eed)),
		store:    map[string]simClaim{},
		wanted:   map[string]bool{},
		eligible: map[string][]string{},
	}
	for i := 1; i <= 6; i++ {
		s.keys = append(s.keys, simKey{key: fmt.Sprintf("192.0.2.%d", i), restricted: i%3 == 0})
	}
	s.keys = append(s.keys, simKey{key: "allocator"})

	// Initial state: random claims (none, released, or held by a node),
	// wanted or not, random endpoints; every view up to date.
	for _, k := range s.keys {
		s.wanted[k.key] = s.rng.IntN(4) != 0
		if k.restricted {
			s.eligible[k.key] = s.subset()
		}
		if h := s.rng.IntN(5); h > 0 {
			holder := ""
			if h <= len(simNodes) {
				holder = simNodes[h-1]
			}
			s.rv++
			c := simClaim{exists: true, holder: holder, rv: s.rv}
			s.store[k.key] = c
			s.watch = append(s.watch, watchEvent{rv: s.rv, key: k.key, claim: c})
		}
	}
	for _, name := range simNodes {
		n := &simNode{
			name: name, alive: true, healthy: true, pos: len(s.watch),
			fresh: map[string]bool{}, cache: map[string]simClaim{},
			wanted: map[string]bool{}, eligible: map[string][]string{},
			binding: map[string]bool{},
		}
		for _, o := range simNodes {
			n.fresh[o] = true
		}
		for k, c := range s.store {
			n.cache[k] = c
		}
		for k, w := range s.wanted {
			n.wanted[k] = w
		}
		for k, e := range s.eligible {
			n.eligible[k] = e
		}
		s.nodes = append(s.nodes, n)
	}

	// Node events: each node may die or turn unhealthy (and maybe
	// recover); follow-up events become pending when their cause happens.
	for _, n := range s.nodes {
		switch r := s.rng.IntN(10); {
		case r < 2:
			s.pending = append(s.pending, envEvent{"kill " + n.name, func() { s.kill(n) }})
		case r < 6:
			s.pending = append(s.pending, envEvent{"unhealthy " + n.name, func() { s.unhealthy(n) }})
		}
	}
	// Service events.
	for range 3 {
		k := s.keys[s.rng.IntN(len(s.keys))]
		s.pending = append(s.pending, envEvent{"service " + k.key, func() { s.service(k) }})
	}
	return s
}

func (s *sim) subset() []string {
	var e []string
	for _, n := range simNodes {
		if s.rng.IntN(2) == 0 {
			e = append(e, n)
		}
	}
	return e
}

func (s *sim) logf(format string, args ...any) {
	s.trace = append(s.trace, fmt.Sprintf(format, args...))
}

func (s *sim) kill(n *simNode) {
	n.alive = false
	clear(n.binding) // its deadline passed, or it crashed: nothing bound
	s.pending = append(s.pending, envEvent{"expired " + n.name, func() { s.leaseEvent(n, false) }})
}

func (s *sim) unhealthy(n *simNode) {
	n.healthy = false
	clear(n.binding) // it unbinds, then releases its node Lease
	s.pending = append(s.pending, envEvent{"release " + n.name, func() {
		s.leaseEvent(n, false)
		if s.rules.recover && s.rng.IntN(2) == 0 {
			s.pending = append(s.pending, envEvent{"recover " + n.name, func() { s.recover(n) }})
		}
	}})
}

// recover: healthy again, n takes its node Lease again: a new term.
func (s *sim) recover(n *simNode) {
	n.healthy = true
	n.term = s.leaseEvent(n, true)
}

func (s *sim) leaseEvent(n *simNode, live bool) int {
	s.rv++
	s.watch = append(s.watch, watchEvent{rv: s.rv, node: n.name, live: live})
	return s.rv
}

func (s *sim) service(k simKey) {
	e := svcEvent{key: k.key, wanted: s.wanted[k.key], eligible: s.eligible[k.key]}
	if k.restricted && s.rng.IntN(2) == 0 {
		e.eligible = s.subset()
	} else {
		e.wanted = !e.wanted
	}
	s.wanted[k.key], s.eligible[k.key] = e.wanted, e.eligible
	s.svc = append(s.svc, e)
	s.logf("  service %s: wanted=%v eligible=%v", e.key, e.wanted, e.eligible)
}

func (s *sim) deliverWatch(n *simNode) {
	e := s.watch[n.pos]
	n.pos++
	switch {
	case e.key != "":
		if e.claim.rv > n.cache[e.key].rv {
			n.cache[e.key] = e.claim
		}
	case e.node != n.name:
		n.fresh[e.node] = e.live
	}
}

func (s *sim) deliverSvc(n *simNode) {
	e := s.svc[n.svcPos]
	n.svcPos++
	n.wanted[e.key], n.eligible[e.key] = e.wanted, e.eligible
}

// seen is the resourceVersion up to which n's watch has delivered.
func (n *simNode) seen(s *sim) int {
	if n.pos == 0 {
		return 0
	}
	return s.watch[n.pos-1].rv
}

// freshView is n's freshness map: others as its watch shows them, itself
// by its own state.
func (n *simNode) freshView() map[string]bool {
	fresh := make(map[string]bool, len(n.fresh))
	for o, f := range n.fresh {
		fresh[o] = f
	}
	fresh[n.name] = n.alive && n.healthy
	return fresh
}

// items is n's view of every key, as Decide takes it.
func (n *simNode) items(keys []simKey) []Item {
	items := make([]Item, len(keys))
	for j, k := range keys {
		c := n.cache[k.key]
		items[j] = Item{
			Key: k.key, Wanted: n.wanted[k.key], Restricted: k.restricted,
			Eligible: n.eligible[k.key], Claim: Claim{Exists: c.exists, Holder: c.holder},
		}
	}
	return items
}

// act runs Decide on n's view and carries out its verdict on key i. It
// reports whether anything changed (a write or a binding).
func (s *sim) act(n *simNode, i int) bool {
	d := Decide(n.name, n.freshView(), n.items(s.keys))[i]
	k, c := d.Key, n.cache[d.Key]
	s.stats.actions[d.Action]++
	was := n.binding[k]
	if d.Action != Bind {
		delete(n.binding, k) // every other verdict: not bound, first
	}
	ahead := c.rv > n.seen(s) // c is n's own write, not yet echoed
	switch d.Action {
	case Bind:
		if s.rules.rewriteStale && c.rv < n.term {
			s.stats.rewrites++
			delete(n.binding, k)
			return s.cas(n, k, c, simClaim{exists: true, holder: n.name}, "rewrite") || was
		}
		n.binding[k] = true
		if !was {
			s.logf("  %s binds %s (claim rv %d)", n.name, k, c.rv)
		}
		return !was
	case Take:
		if s.rules.guardAhead && ahead {
			s.stats.held++
			return was
		}
		return s.cas(n, k, c, simClaim{exists: true, holder: n.name}, "take") || was
	case Handoff:
		return s.cas(n, k, c, simClaim{exists: true, holder: d.To}, "handoff to "+d.To) || was
	case Delete:
		if s.rules.guardAhead && ahead && c.holder != n.name {
			s.stats.held++
			return was
		}
		return s.cas(n, k, c, simClaim{}, "delete") || was
	}
	if was {
		s.logf("  %s unbinds %s", n.name, k)
	}
	return was
}

// cas writes next over the claim of k if it is still the one n saw (an
// Update on its resourceVersion, a Create if n saw none, a Delete with a
// resourceVersion precondition).
func (s *sim) cas(n *simNode, k string, saw, next simClaim, what string) bool {
	cur := s.store[k]
	if saw.exists != cur.exists || (saw.exists && saw.rv != cur.rv) {
		s.stats.conflicts++
		s.logf("  %s %s %s: conflict (saw rv %d, store rv %d)", n.name, what, k, saw.rv, cur.rv)
		return false
	}
	s.rv++
	next.rv = s.rv
	s.store[k] = next
	s.watch = append(s.watch, watchEvent{rv: s.rv, key: k, claim: next})
	n.cache[k] = next // write-through
	s.logf("  %s %s %s: rv %d", n.name, what, k, s.rv)
	return true
}

// maxActs bounds the random phase; events and deliveries still run out
// after it.
const maxActs = 120

func (s *sim) run() error {
	acts := 0
	for {
		type choice struct {
			name string
			do   func()
		}
		var choices []choice
		for i, e := range s.pending {
			choices = append(choices, choice{e.name, func() {
				s.pending = slices.Delete(s.pending, i, i+1)
				e.apply()
			}})
		}
		for _, n := range s.nodes {
			if !n.alive {
				continue
			}
			if n.pos < len(s.watch) {
				choices = append(choices, choice{"watch → " + n.name, func() { s.deliverWatch(n) }})
			}
			if n.svcPos < len(s.svc) {
				choices = append(choices, choice{"service → " + n.name, func() { s.deliverSvc(n) }})
			}
			if acts < maxActs {
				i := s.rng.IntN(len(s.keys))
				choices = append(choices, choice{"act " + n.name + " " + s.keys[i].key, func() {
					acts++
					s.act(n, i)
				}})
			}
		}
		if len(choices) == 0 {
			break
		}
		c := choices[s.rng.IntN(len(choices))]
		s.logf("%s", c.name)
		c.do()
		if err := s.check(); err != nil {
			return err
		}
	}
	return s.converge()
}

func tail(lines []string, n int) string {
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
