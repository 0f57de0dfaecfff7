package owner

import (
	"fmt"
	"slices"
	"testing"
)

// The simulation's checks and tests; the model is in model_test.go.

// check is the safety invariant: at most one binder per key, and the store's
// claim names it.
func (s *sim) check() error {
	for _, k := range s.keys {
		var binders []string
		for _, n := range s.nodes {
			if n.binding[k.key] {
				if !n.alive || !n.healthy {
					return fmt.Errorf("%s binds %s while dead or unhealthy", n.name, k.key)
				}
				binders = append(binders, n.name)
			}
		}
		if len(binders) > 1 {
			return fmt.Errorf("%s bound by %v", k.key, binders)
		}
		if len(binders) == 1 {
			if c := s.store[k.key]; !c.exists || c.holder != binders[0] {
				return fmt.Errorf("%s bound by %s but its claim is %+v", k.key, binders[0], c)
			}
		}
	}
	return nil
}

// converge lets every live node catch up and act until nothing changes,
// then checks that each wanted key with an eligible fresh node is bound by
// exactly one node, its owner in every live view, and that orphans are gone.
func (s *sim) converge() error {
	s.logf("-- converge")
	const maxRounds = 10
	for round := 0; ; round++ {
		if round == maxRounds {
			return fmt.Errorf("no convergence after %d rounds", maxRounds)
		}
		changed := false
		for _, n := range s.nodes {
			if !n.alive {
				continue
			}
			for n.pos < len(s.watch) {
				s.deliverWatch(n)
			}
			for n.svcPos < len(s.svc) {
				s.deliverSvc(n)
			}
			for i := range s.keys {
				changed = s.act(n, i) || changed
				if err := s.check(); err != nil {
					return err
				}
			}
		}
		if !changed {
			break
		}
	}

	anyFresh := false
	for _, n := range s.nodes {
		anyFresh = anyFresh || (n.alive && n.healthy)
	}
	for i, k := range s.keys {
		var elig []string
		for _, n := range s.nodes {
			if n.alive && n.healthy && (!k.restricted || slices.Contains(s.eligible[k.key], n.name)) {
				elig = append(elig, n.name)
			}
		}
		var binders []string
		for _, n := range s.nodes {
			if n.binding[k.key] {
				binders = append(binders, n.name)
			}
		}
		c := s.store[k.key]
		switch {
		case !s.wanted[k.key]:
			if len(binders) > 0 {
				return fmt.Errorf("orphan %s bound by %v", k.key, binders)
			}
			if anyFresh && c.exists {
				return fmt.Errorf("orphan %s: claim %+v not deleted", k.key, c)
			}
		case len(elig) == 0:
			if len(binders) > 0 {
				return fmt.Errorf("%s: no eligible node, bound by %v", k.key, binders)
			}
		default:
			if len(binders) != 1 || !slices.Contains(elig, binders[0]) {
				return fmt.Errorf("%s: eligible %v, bound by %v (claim %+v)", k.key, elig, binders, c)
			}
			for _, n := range s.nodes {
				if !n.alive {
					continue
				}
				d := Decide(n.name, n.freshView(), n.items(s.keys))[i]
				if d.Owner != binders[0] {
					return fmt.Errorf("%s: bound by %s, owner by %s's view %q", k.key, binders[0], n.name, d.Owner)
				}
			}
		}
	}
	return nil
}

const simRuns = 2000

func TestSimulation(t *testing.T) {
	var total simStats
	for seed := range uint64(simRuns) {
		s := newSim(seed, safeRules)
		if err := s.run(); err != nil {
			t.Fatalf("seed %d: %v\ntrace:\n%s", seed, err, tail(s.trace, 60))
		}
		for a, c := range s.stats.actions {
			total.actions[a] += c
		}
		total.conflicts += s.stats.conflicts
		total.rewrites += s.stats.rewrites
		total.held += s.stats.held
	}
	// The runs must exercise every path, or they prove little.
	for a, c := range total.actions {
		if c == 0 {
			t.Errorf("no run decided %v", Action(a))
		}
	}
	if total.conflicts == 0 || total.rewrites == 0 || total.held == 0 {
		t.Errorf("runs never hit a conflict (%d), a rewrite (%d) or a held take (%d)",
			total.conflicts, total.rewrites, total.held)
	}
	t.Logf("%d runs: actions %v, conflicts %d, rewrites %d, held %d",
		simRuns, total.actions, total.conflicts, total.rewrites, total.held)
}

// TestSimulationWithoutRecovery: when nodes die or turn unhealthy for good
// (no recovery), Decide alone keeps one binder per key; the caller rules
// are not needed.
func TestSimulationWithoutRecovery(t *testing.T) {
	for seed := range uint64(simRuns) {
		s := newSim(seed, simRules{})
		if err := s.run(); err != nil {
			t.Fatalf("seed %d: %v\ntrace:\n%s", seed, err, tail(s.trace, 60))
		}
	}
}

// fixedSim: nodes a, b, c, all fresh and up to date; one wanted,
// unrestricted key keyCBA (Score order c > b > a) whose claim names holder.
func fixedSim(rules simRules, holder string) *sim {
	s := newSim(0, rules)
	s.keys = []simKey{{key: keyCBA}}
	s.pending, s.watch, s.svc, s.rv = nil, nil, nil, 1
	s.store = map[string]simClaim{keyCBA: {exists: true, holder: holder, rv: 1}}
	s.wanted = map[string]bool{keyCBA: true}
	for _, n := range s.nodes {
		n.pos, n.svcPos = 0, 0
		n.cache = map[string]simClaim{keyCBA: s.store[keyCBA]}
		n.wanted = map[string]bool{keyCBA: true}
	}
	return s
}

// TestSimulationCallerRules replays, step by step, the two races that the
// caller rules close (found by the random runs), with and without the rule.
func TestSimulationCallerRules(t *testing.T) {
	upTo := func(s *sim, n *simNode, rv int) {
		for n.seen(s) < rv {
			s.deliverWatch(n)
		}
	}
	scripts := map[string]struct {
		rule   simRules // the rule under test
		holder string
		script func(s *sim, a, b, c *simNode) error
	}{
		// c, holder, turns unhealthy and releases its Lease; b sees the
		// release and takes the claim; c meanwhile recovered and binds
		// the old claim naming it.
		"rewriteStale": {simRules{rewriteStale: true}, "c", func(s *sim, a, b, c *simNode) error {
			if s.act(c, 0); !c.binding[keyCBA] {
				return fmt.Errorf("c does not bind at start")
			}
			s.unhealthy(c)
			r := s.leaseEvent(c, false)
			s.recover(c)
			s.act(c, 0) // binds the claim written before its new term?
			if err := s.check(); err != nil {
				return err
			}
			upTo(s, b, r) // b sees c released, not yet recovered
			s.act(b, 0)   // b is the owner among a, b: take
			return s.check()
		}},
		// c releases and recovers; b, whose watch is behind, turns
		// unhealthy and hands its key to c, the owner by b's view, and c
		// binds it. b sees c's release (not the recovery), recovers, and
		// - its cache holding its own write, ahead of its watch - takes
		// the key from c.
		"guardAhead": {simRules{guardAhead: true}, "b", func(s *sim, a, b, c *simNode) error {
			s.unhealthy(c)
			r := s.leaseEvent(c, false)
			s.recover(c)
			s.unhealthy(b)
			s.act(b, 0) // hand off to c
			if got := s.store[keyCBA].holder; got != "c" {
				return fmt.Errorf("b handed off to %q, want c", got)
			}
			upTo(s, c, s.rv)
			if s.act(c, 0); !c.binding[keyCBA] { // the claim is newer than its term
				return fmt.Errorf("c does not bind the key handed to it")
			}
			upTo(s, b, r)
			s.leaseEvent(b, false)
			s.recover(b)
			s.act(b, 0) // b is the owner among a, b: take?
			return s.check()
		}},
	}
	for name, sc := range scripts {
		for _, on := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s=%v", name, on), func(t *testing.T) {
				rules := simRules{recover: true}
				if on {
					rules = sc.rule
					rules.recover = true
				}
				s := fixedSim(rules, sc.holder)
				err := sc.script(s, s.nodes[0], s.nodes[1], s.nodes[2])
				if err == nil {
					err = s.converge()
				}
				switch {
				case on && err != nil:
					t.Errorf("with the rule: %v\ntrace:\n%s", err, tail(s.trace, 40))
				case !on && err == nil:
					t.Errorf("without the rule no violation\ntrace:\n%s", tail(s.trace, 40))
				case !on:
					t.Logf("without the rule: %v", err)
				}
			})
		}
	}
}
