package owner

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The tables below name owners by hand. They rely on these rankings, which
// TestScoreGolden pins and TestRankings restates.
const (
	keyCBA = "192.0.2.2" // Score order: c > b > a
	keyBAC = "allocator" // Score order: b > a > c
)

func TestRankings(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want []string
	}{
		{keyCBA, []string{"c", "b", "a"}},
		{keyBAC, []string{"b", "a", "c"}},
	} {
		for i := 1; i < len(tc.want); i++ {
			hi, lo := tc.want[i-1], tc.want[i]
			if !better(Score(tc.key, hi), hi, Score(tc.key, lo), lo) {
				t.Errorf("Score(%q): %s does not beat %s", tc.key, hi, lo)
			}
		}
	}
}

func set(nodes ...string) map[string]bool {
	m := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		m[n] = true
	}
	return m
}

func held(h string) Claim { return Claim{Exists: true, Holder: h} }

var released = Claim{Exists: true}

func TestDecide(t *testing.T) {
	abc := set("a", "b", "c")
	withStale := func(m map[string]bool, stale ...string) map[string]bool {
		for _, n := range stale {
			m[n] = false
		}
		return m
	}
	wanted := func(c Claim) Item { return Item{Key: keyCBA, Wanted: true, Claim: c} }
	local := func(c Claim, eligible ...string) Item {
		return Item{Key: keyCBA, Wanted: true, Restricted: true, Eligible: eligible, Claim: c}
	}
	orphan := func(c Claim) Item { return Item{Key: keyCBA, Claim: c} }

	for _, tc := range []struct {
		name  string
		self  string
		fresh map[string]bool
		item  Item
		want  Decision
	}{
		// Wanted, every fresh node eligible.
		{"new key, self highest: take", "c", abc, wanted(Claim{}),
			Decision{Owner: "c", Action: Take}},
		{"new key, other highest: wait", "b", abc, wanted(Claim{}),
			Decision{Owner: "c"}},
		{"released claim, self highest: take", "c", abc, wanted(released),
			Decision{Owner: "c", Action: Take}},
		{"released claim, other highest: wait", "a", abc, wanted(released),
			Decision{Owner: "c"}},
		{"fresh holder is sticky", "c", abc, wanted(held("a")),
			Decision{Owner: "a"}},
		{"holder self and owner: bind", "a", abc, wanted(held("a")),
			Decision{Owner: "a", Action: Bind}},
		{"holder not fresh, self highest: take", "c", withStale(set("b", "c"), "a"), wanted(held("a")),
			Decision{Owner: "c", Action: Take}},
		{"holder absent from fresh, self highest: take", "c", set("b", "c"), wanted(held("a")),
			Decision{Owner: "c", Action: Take}},
		{"holder not fresh, other highest: wait", "b", set("b", "c"), wanted(held("a")),
			Decision{Owner: "c"}},
		{"holder and highest not fresh: next takes", "b", set("b"), wanted(held("a")),
			Decision{Owner: "b", Action: Take}},
		{"fresh other holder: never take", "c", abc, wanted(held("b")),
			Decision{Owner: "b"}},
		{"holder ignored when the claim does not exist", "c", abc, wanted(Claim{Holder: "c"}),
			Decision{Owner: "c", Action: Take}},

		// Self not fresh.
		{"self not fresh holds: hand off", "c", set("a", "b"), wanted(held("c")),
			Decision{Owner: "b", Action: Handoff, To: "b"}},
		{"self marked stale holds: hand off", "c", withStale(set("a", "b"), "c"), wanted(held("c")),
			Decision{Owner: "b", Action: Handoff, To: "b"}},
		{"self not fresh, nobody fresh: release", "c", nil, wanted(held("c")),
			Decision{Action: Handoff}},
		{"self not fresh never takes", "c", set("a", "b"), wanted(Claim{}),
			Decision{Owner: "b"}},
		{"self not fresh never takes a dead holder's", "c", set("b"), wanted(held("a")),
			Decision{Owner: "b"}},

		// Restricted (externalTrafficPolicy: Local).
		{"local new key: highest eligible takes", "b", abc, local(Claim{}, "a", "b"),
			Decision{Owner: "b", Action: Take}},
		{"local new key: highest overall waits", "c", abc, local(Claim{}, "a", "b"),
			Decision{Owner: "b"}},
		{"local: fresh ineligible holder is not taken from", "b", abc, local(held("c"), "a", "b"),
			Decision{Owner: "b"}},
		{"local: ineligible holder hands off", "c", abc, local(held("c"), "a", "b"),
			Decision{Owner: "b", Action: Handoff, To: "b"}},
		{"local: eligible holder is sticky", "a", abc, local(held("a"), "a", "b", "c"),
			Decision{Owner: "a", Action: Bind}},
		{"local: no eligible node: release", "c", abc, local(held("c")),
			Decision{Action: Handoff}},
		{"local: eligible but none fresh", "b", set("b", "c"), local(held("a"), "a"),
			Decision{}},
		{"local: empty and unknown names are not eligible", "c", abc, local(released, "", "x"),
			Decision{}},
		{"local: dead holder, self eligible: take", "b", set("b", "c"), local(held("a"), "a", "b"),
			Decision{Owner: "b", Action: Take}},
		{"local: released, other eligible higher: wait", "b", abc, local(released, "b", "c"),
			Decision{Owner: "c"}},
		{"local: self eligible but not fresh", "b", set("a", "c"), local(Claim{}, "b"),
			Decision{}},

		// Orphans (key not wanted). The janitor of keyCBA among a, b, c is c.
		{"orphan without claim", "c", abc, orphan(Claim{}),
			Decision{}},
		{"orphan held by self: delete", "a", abc, orphan(held("a")),
			Decision{Action: Delete}},
		{"orphan held by self not fresh: delete", "a", set("b", "c"), orphan(held("a")),
			Decision{Action: Delete}},
		{"orphan released: janitor deletes", "c", abc, orphan(released),
			Decision{Action: Delete}},
		{"orphan released: others wait", "b", abc, orphan(released),
			Decision{}},
		{"orphan of a dead node: janitor deletes", "c", set("b", "c"), orphan(held("a")),
			Decision{Action: Delete}},
		{"orphan of a dead node: others wait", "b", set("b", "c"), orphan(held("a")),
			Decision{}},
		{"orphan, janitor dead: next deletes", "b", set("b"), orphan(held("a")),
			Decision{Action: Delete}},
		{"orphan of a fresh node: it deletes its own", "c", abc, orphan(held("b")),
			Decision{}},
		{"orphan: non-fresh self is never janitor", "c", set("a", "b"), orphan(released),
			Decision{}},
		{"orphan: janitor ignores Restricted", "c", abc, Item{Key: keyCBA, Restricted: true, Eligible: []string{"a"}, Claim: released},
			Decision{Action: Delete}},

		// The allocator role is a key like the others.
		{"allocator: highest takes", "b", abc, Item{Key: keyBAC, Wanted: true},
			Decision{Owner: "b", Action: Take}},
		{"allocator: sticky", "b", abc, Item{Key: keyBAC, Wanted: true, Claim: held("c")},
			Decision{Owner: "c"}},

		// An empty self only reports owners.
		{"empty self never acts", "", abc, wanted(Claim{}),
			Decision{Owner: "c"}},
		{"empty self, released claim", "", abc, wanted(released),
			Decision{Owner: "c"}},
		{"empty self, orphan", "", abc, orphan(released),
			Decision{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.Key = tc.item.Key
			got := Decide(tc.self, tc.fresh, []Item{tc.item})
			if diff := cmp.Diff([]Decision{tc.want}, got); diff != "" {
				t.Errorf("Decide(%q) (-want +got):\n%s", tc.self, diff)
			}
		})
	}
}

// TestDecideOrder: one Decision per item, in order, each as if alone.
func TestDecideOrder(t *testing.T) {
	items := []Item{
		{Key: "192.0.2.1", Wanted: true},
		{Key: keyCBA, Wanted: true, Claim: held("c")},
		{Key: keyCBA, Claim: released},
		{Key: keyBAC, Wanted: true, Claim: held("a")},
		{Key: "2001:db8::1", Wanted: true, Restricted: true, Eligible: []string{"b"}},
	}
	fresh := set("a", "b", "c")
	for _, self := range []string{"a", "b", "c", "d"} {
		got := Decide(self, fresh, items)
		var want []Decision
		for i := range items {
			want = append(want, Decide(self, fresh, items[i:i+1])...)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Decide(%q) batch differs from one by one (-want +got):\n%s", self, diff)
		}
		for i, d := range got {
			if d.Key != items[i].Key {
				t.Errorf("Decide(%q)[%d].Key = %q, want %q", self, i, d.Key, items[i].Key)
			}
		}
	}
	if got := Decide("a", fresh, nil); len(got) != 0 {
		t.Errorf("Decide with no items = %v", got)
	}
}

func TestBetter(t *testing.T) {
	for _, tc := range []struct {
		sa   uint64
		a    string
		sb   uint64
		b    string
		want bool
	}{
		{2, "z", 1, "a", true},
		{1, "a", 2, "z", false},
		{5, "a", 5, "b", true}, // tie: the smaller name wins
		{5, "b", 5, "a", false},
		{5, "a", 5, "a", false},
	} {
		if got := better(tc.sa, tc.a, tc.sb, tc.b); got != tc.want {
			t.Errorf("better(%d, %q, %d, %q) = %v, want %v", tc.sa, tc.a, tc.sb, tc.b, got, tc.want)
		}
	}
}

func TestActionString(t *testing.T) {
	for a, want := range map[Action]string{None: "None", Bind: "Bind", Take: "Take", Handoff: "Handoff", Delete: "Delete", 9: "Action(9)", -1: "Action(-1)"} {
		if got := a.String(); got != want {
			t.Errorf("Action(%d).String() = %q, want %q", int(a), got, want)
		}
	}
}

// TestPreferred: preferred nodes win the choice among eligible nodes, in
// any order of the lists; a holder stays while eligible (no second move
// when a preferred node returns); without a fresh eligible preferred node
// the others take over.
func TestPreferred(t *testing.T) {
	abc := set("a", "b", "c")
	item := func(c Claim, restricted bool, eligible, preferred []string) Item {
		return Item{Key: keyCBA, Wanted: true, Restricted: restricted, Eligible: eligible, Preferred: preferred, Claim: c}
	}
	for _, tc := range []struct {
		name      string
		fresh     map[string]bool
		claim     Claim
		restrict  bool
		eligible  []string
		preferred []string
		want      string // the owner by every node's view
	}{
		{"new key: the preferred node, not the highest", abc, Claim{}, false, nil, []string{"a"}, "a"},
		{"two preferred: the higher of them", abc, Claim{}, false, nil, []string{"a", "b"}, "b"},
		{"preferred but not fresh: the highest of the others", set("b", "c"), Claim{}, false, nil, []string{"a"}, "c"},
		{"preferred but not eligible (Local): the eligible one", abc, Claim{}, true, []string{"b"}, []string{"a"}, "b"},
		{"preferred and eligible (Local)", abc, Claim{}, true, []string{"a", "c"}, []string{"a"}, "a"},
		{"a non-preferred holder stays: no second move", abc, held("c"), false, nil, []string{"a"}, "c"},
		{"holder gone: to the preferred node", set("a", "b"), held("c"), false, nil, []string{"a"}, "a"},
		{"an unknown preferred name changes nothing", abc, Claim{}, false, nil, []string{"zz"}, "c"},
	} {
		orders := [][2][]string{{tc.eligible, tc.preferred}, {reversed(tc.eligible), reversed(tc.preferred)}}
		for _, o := range orders {
			for _, self := range []string{"a", "b", "c"} {
				d := Decide(self, tc.fresh, []Item{item(tc.claim, tc.restrict, o[0], o[1])})[0]
				if d.Owner != tc.want {
					t.Errorf("%s: Decide(%q) with eligible %v, preferred %v: owner %q; want %q", tc.name, self, o[0], o[1], d.Owner, tc.want)
				}
			}
		}
	}
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[len(s)-1-i] = x
	}
	return out
}
