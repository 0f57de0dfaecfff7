package owner

import "strconv"

// Claim is the current claim Lease of a key, as this node last saw it.
type Claim struct {
	Exists bool
	Holder string // "" when released
}

// Item is one claim key: a Service address (its string form) or the
// allocator role ("allocator").
type Item struct {
	Key string
	// Wanted: the key is in use (an allocated address, or the allocator
	// role). A claim of an unwanted key is an orphan, to be deleted.
	Wanted bool
	// Restricted: only the nodes in Eligible may own it (eTP Local: nodes
	// with a ready endpoint). Otherwise every fresh node may.
	Restricted bool
	Eligible   []string
	// Preferred nodes win a choice among the eligible nodes when one of
	// them is fresh and eligible (an AddressPool's preferredNodes); the
	// others still take over when none is. A soft weight only: a holder
	// that is not preferred stays while it is eligible (sticky), so a
	// preferred node's return costs no second move.
	Preferred []string
	Claim     Claim
}

// Action is what this node must do about one key.
type Action int

const (
	None    Action = iota
	Bind           // the claim names self and self should own it: bind the key
	Take           // write the claim naming self (compare-and-swap, or create)
	Handoff        // self holds the claim but should not: unbind, then write the claim naming To ("" = release)
	Delete         // orphan claim: unbind if held, then delete the claim
)

var actionNames = [...]string{None: "None", Bind: "Bind", Take: "Take", Handoff: "Handoff", Delete: "Delete"}

func (a Action) String() string {
	if a >= 0 && int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "Action(" + strconv.Itoa(int(a)) + ")"
}

// Decision is the verdict on one key. A node binds a key exactly while its
// latest Decision for it is Bind; every other action means "not bound".
type Decision struct {
	Key    string
	Owner  string // who should own it by this node's view; "" if nobody can
	Action Action
	To     string // for Handoff
}

// Decide returns one Decision per item, in the items' order. fresh says
// which nodes are live by this node's view (node Lease held, not released,
// changed less than a lease duration ago; for self: its own deadline has
// not passed and it is healthy). Nodes absent from fresh are not fresh.
//
// The Owner of an unwanted key is "": nobody should own an orphan. A node
// named "" is never fresh, and an empty self never acts (Decide then only
// reports owners). Each item is decided on its own: Decide(self, fresh,
// items)[i] equals Decide(self, fresh, items[i:i+1])[0].
func Decide(self string, fresh map[string]bool, items []Item) []Decision {
	v := view{self: self, fresh: fresh}
	for n, ok := range fresh {
		if ok && n != "" {
			v.live = append(v.live, n)
		}
	}
	out := make([]Decision, len(items))
	for i := range items {
		out[i] = v.decide(&items[i])
	}
	return out
}

// view is this node's observations, shared by all items of one Decide.
type view struct {
	self  string
	fresh map[string]bool
	live  []string // the fresh nodes
}

func (v *view) isFresh(n string) bool { return n != "" && v.fresh[n] }

func (v *view) decide(it *Item) Decision {
	d := Decision{Key: it.Key}
	holder := ""
	if it.Claim.Exists {
		holder = it.Claim.Holder
	}
	held := v.self != "" && holder == v.self

	if !it.Wanted {
		switch {
		case !it.Claim.Exists:
		case held:
			d.Action = Delete
		case !v.isFresh(holder) && v.self != "" && highest(it.Key, v.live) == v.self:
			// Holder gone or released: the janitor, one node by
			// everyone's view, deletes it. A fresh other holder
			// deletes its own.
			d.Action = Delete
		}
		return d
	}

	d.Owner = v.owner(it, holder)
	switch {
	case held && d.Owner == v.self:
		d.Action = Bind
	case held:
		d.Action, d.To = Handoff, d.Owner
	case v.self != "" && d.Owner == v.self && !v.isFresh(holder):
		// Owner == self implies self is fresh: a non-fresh node never takes.
		d.Action = Take
	}
	return d
}

// owner: the holder while it is eligible (sticky), else the eligible
// preferred node with the highest Score, else the eligible node with the
// highest Score, else "".
func (v *view) owner(it *Item, holder string) string {
	if v.eligible(it, holder) {
		return holder
	}
	if len(it.Preferred) > 0 {
		var pref []string
		for _, n := range it.Preferred {
			if v.eligible(it, n) {
				pref = append(pref, n)
			}
		}
		if len(pref) > 0 {
			return highest(it.Key, pref)
		}
	}
	if !it.Restricted {
		return highest(it.Key, v.live)
	}
	best, bestScore := "", uint64(0)
	for _, n := range it.Eligible {
		if !v.isFresh(n) {
			continue
		}
		s := Score(it.Key, n)
		if best == "" || better(s, n, bestScore, best) {
			best, bestScore = n, s
		}
	}
	return best
}

func (v *view) eligible(it *Item, n string) bool {
	if !v.isFresh(n) {
		return false
	}
	if !it.Restricted {
		return true
	}
	for _, e := range it.Eligible {
		if e == n {
			return true
		}
	}
	return false
}
