package owner

import (
	"slices"
	"testing"
)

var (
	fuzzNodes = []string{"a", "b", "c", "d", "", "x"} // "" is nobody; "x" is never fresh
	fuzzKeys  = []string{"192.0.2.1", "192.0.2.2", "2001:db8::1", "allocator", ""}
)

const maxFuzzItems = 32

// fuzzInput builds self, fresh and items from bytes: self and fresh from
// the first two bytes, then four bytes per item (key, flags, holder,
// eligible set).
func fuzzInput(data []byte) (string, map[string]bool, []Item) {
	if len(data) < 2 {
		return "", nil, nil
	}
	self := fuzzNodes[int(data[0])%len(fuzzNodes)]
	fresh := map[string]bool{}
	for i, n := range fuzzNodes[:5] {
		switch data[1] >> i & 1 {
		case 1:
			fresh[n] = true
		case 0:
			if data[1]&0x80 != 0 {
				fresh[n] = false // present but not fresh, as well as absent
			}
		}
	}
	var items []Item
	// At most maxFuzzItems items: every item is decided alone too, and by
	// every node; long inputs would only slow the fuzzer down.
	for data = data[2:]; len(data) >= 4 && len(items) < maxFuzzItems; data = data[4:] {
		it := Item{
			Key:        fuzzKeys[int(data[0])%len(fuzzKeys)],
			Wanted:     data[1]&1 != 0,
			Restricted: data[1]&2 != 0,
			Claim: Claim{
				Exists: data[1]&4 != 0,
				Holder: fuzzNodes[int(data[2])%len(fuzzNodes)],
			},
		}
		for i, n := range fuzzNodes {
			if data[3]>>i&1 != 0 {
				it.Eligible = append(it.Eligible, n)
			}
			if i < 5 && data[1]>>(3+i)&1 != 0 { // bits 3–7: preferred nodes
				it.Preferred = append(it.Preferred, n)
			}
		}
		items = append(items, it)
	}
	return self, fresh, items
}

// FuzzDecide checks Decide's invariants: one Decision per item, in order,
// each as if alone; Take only by the owner; Bind only by a fresh holder that
// is the owner; the owner is eligible and agreed on by every node with the
// same view; at most one node Takes, and at most one non-holder Deletes.
func FuzzDecide(f *testing.F) {
	f.Add([]byte{0, 0x07, 0, 1, 0, 0xff})
	f.Add([]byte{2, 0x03, 1, 7, 2, 0x05, 3, 4, 4, 0})
	f.Add([]byte{4, 0x8f, 2, 5, 1, 0x02, 0, 6, 5, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		self, fresh, items := fuzzInput(data)
		got := Decide(self, fresh, items)
		if len(got) != len(items) {
			t.Fatalf("%d decisions for %d items", len(got), len(items))
		}
		isFresh := func(n string) bool { return n != "" && fresh[n] }
		for i, d := range got {
			it := items[i]
			if d.Key != it.Key {
				t.Fatalf("decision %d is for %q, item is %q", i, d.Key, it.Key)
			}
			if one := Decide(self, fresh, items[i:i+1])[0]; one != d {
				t.Fatalf("item %d: %+v in a batch, %+v alone", i, d, one)
			}
			holder := ""
			if it.Claim.Exists {
				holder = it.Claim.Holder
			}
			eligible := func(n string) bool {
				return isFresh(n) && (!it.Restricted || slices.Contains(it.Eligible, n))
			}
			anyEligible := false
			for _, n := range fuzzNodes {
				anyEligible = anyEligible || eligible(n)
			}
			switch {
			case !it.Wanted && d.Owner != "":
				t.Fatalf("item %+v: orphan with owner %q", it, d.Owner)
			case it.Wanted && d.Owner != "" && !eligible(d.Owner):
				t.Fatalf("item %+v: owner %q not eligible", it, d.Owner)
			case it.Wanted && (d.Owner == "") == anyEligible:
				t.Fatalf("item %+v: owner %q, some node eligible: %v", it, d.Owner, anyEligible)
			case it.Wanted && eligible(holder) && d.Owner != holder:
				t.Fatalf("item %+v: eligible holder, owner %q", it, d.Owner)
			}
			switch d.Action {
			case Take:
				if self == "" || d.Owner != self || !isFresh(self) || isFresh(holder) {
					t.Fatalf("self %q fresh %v item %+v: Take, owner %q", self, fresh, it, d.Owner)
				}
			case Bind:
				if self == "" || holder != self || d.Owner != self || !isFresh(self) || !it.Wanted {
					t.Fatalf("self %q fresh %v item %+v: Bind, owner %q", self, fresh, it, d.Owner)
				}
			case Handoff:
				if self == "" || holder != self || d.To != d.Owner || d.Owner == self || !it.Wanted {
					t.Fatalf("self %q item %+v: %+v", self, it, d)
				}
			case Delete:
				if self == "" || it.Wanted || !it.Claim.Exists {
					t.Fatalf("self %q item %+v: Delete", self, it)
				}
			case None:
				if d.To != "" {
					t.Fatalf("None with To %q", d.To)
				}
			default:
				t.Fatalf("unknown action %v", d.Action)
			}
			if d.Action != Handoff && d.To != "" {
				t.Fatalf("%v with To %q", d.Action, d.To)
			}

			// Every node with this view: same owner, one taker, one
			// janitor.
			takes, deletes := 0, 0
			for _, n := range fuzzNodes {
				if n == "" {
					continue
				}
				dn := Decide(n, fresh, items[i:i+1])[0]
				if dn.Owner != d.Owner {
					t.Fatalf("item %+v: owner %q by %q, %q by %q", it, d.Owner, self, dn.Owner, n)
				}
				if dn.Action == Take {
					takes++
				}
				if dn.Action == Delete && n != holder {
					deletes++
				}
			}
			if takes > 1 || deletes > 1 {
				t.Fatalf("item %+v fresh %v: %d nodes take, %d non-holders delete", it, fresh, takes, deletes)
			}
		}
	})
}
