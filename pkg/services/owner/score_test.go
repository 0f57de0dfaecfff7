package owner

import (
	"fmt"
	"hash/fnv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestScoreGolden pins Score. If this test fails, do not update the values:
// nodes of different versions would disagree on owners during an upgrade.
func TestScoreGolden(t *testing.T) {
	for _, tc := range []struct {
		key, node string
		want      uint64
	}{
		{"192.0.2.1", "a", 0x94edc5e097879863},
		{"192.0.2.1", "b", 0x84649961abe30156},
		{"allocator", "node-1", 0x08dd25611909e780},
		{"2001:db8::1", "worker-2", 0xb0b2aabfe7cf21d9},
		{"", "", 0x25fc6dd36ce04b20},
	} {
		if got := Score(tc.key, tc.node); got != tc.want {
			t.Errorf("Score(%q, %q) = %#016x, want %#016x", tc.key, tc.node, got, tc.want)
		}
	}
}

// TestScoreReference: Score is hash/fnv's FNV-1a 64 of key+"\x00"+node,
// then splitmix64's finalizer.
func TestScoreReference(t *testing.T) {
	for _, p := range [][2]string{{"", ""}, {"192.0.2.1", "a"}, {"ab", "c"}, {"a", "bc"}, {"allocator", "node-1"}} {
		h := fnv.New64a()
		h.Write([]byte(p[0] + "\x00" + p[1]))
		z := h.Sum64()
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		if got := Score(p[0], p[1]); got != z {
			t.Errorf("Score(%q, %q) = %#x, reference %#x", p[0], p[1], got, z)
		}
	}
	if Score("ab", "c") == Score("a", "bc") {
		t.Error(`Score("ab", "c") == Score("a", "bc"): the separator is lost`)
	}
}

// TestScoreSpread: adjacent keys give unrelated scores (the finalizer at
// work): over 1,000 adjacent keys every output bit is set about half the time.
func TestScoreSpread(t *testing.T) {
	var ones [64]int
	const n = 1000
	for i := range n {
		s := Score(fmt.Sprintf("2001:db8::1:%x", i), "worker-1")
		for bit := range 64 {
			ones[bit] += int(s >> bit & 1)
		}
	}
	for bit, c := range ones {
		// Binomial(1000, 0.5): σ ≈ 16; 400..600 is more than 6σ.
		if c < 400 || c > 600 {
			t.Errorf("bit %d set in %d of %d scores", bit, c, n)
		}
	}
}

var balanceNodes = []string{"worker-1", "worker-2", "worker-3"}

func balanceKeys() []Item {
	items := make([]Item, 1000)
	for i := range items {
		items[i] = Item{Key: fmt.Sprintf("2001:db8::1:%x", i), Wanted: true}
	}
	return items
}

func owners(fresh map[string]bool, items []Item) map[string]string {
	m := make(map[string]string, len(items))
	for _, d := range Decide("", fresh, items) {
		m[d.Key] = d.Owner
	}
	return m
}

func TestBalance(t *testing.T) {
	items := balanceKeys()
	count := map[string]int{}
	for _, o := range owners(set(balanceNodes...), items) {
		count[o]++
	}
	for _, n := range balanceNodes {
		// A third is 333; 250..420 leaves room for the hash while
		// catching a skew.
		if c := count[n]; c < 250 || c > 420 {
			t.Errorf("%s owns %d of %d keys, want 25%%..42%%", n, c, len(items))
		}
	}
	if len(count) != len(balanceNodes) {
		t.Errorf("owners %v, want exactly %v", count, balanceNodes)
	}
}

// TestMinimalDisruption: when a node goes away only its keys move, with or
// without claims; when a node joins, claimed keys stay put and unclaimed
// ones move only to the new node.
func TestMinimalDisruption(t *testing.T) {
	items := balanceKeys()
	before := owners(set(balanceNodes...), items)
	claimed := make([]Item, len(items))
	for i, it := range items {
		it.Claim = held(before[it.Key])
		claimed[i] = it
	}

	for _, gone := range balanceNodes {
		var rest []string
		for _, n := range balanceNodes {
			if n != gone {
				rest = append(rest, n)
			}
		}
		for name, its := range map[string][]Item{"unclaimed": items, "claimed": claimed} {
			after := owners(set(rest...), its)
			moved := 0
			for k, was := range before {
				now := after[k]
				switch {
				case was != gone && now != was:
					t.Errorf("%s, %s gone: %s moved from %s to %s", name, gone, k, was, now)
				case was == gone && (now == gone || now == ""):
					t.Errorf("%s, %s gone: %s now owned by %q", name, gone, k, now)
				case was == gone:
					moved++
				}
			}
			if moved == 0 {
				t.Errorf("%s, %s gone: nothing moved", name, gone)
			}
		}
	}

	joined := set(append([]string{"worker-4"}, balanceNodes...)...)
	if diff := cmp.Diff(before, owners(joined, claimed)); diff != "" {
		t.Errorf("a node joining moved claimed keys (-before +after):\n%s", diff)
	}
	gained := 0
	for k, now := range owners(joined, items) {
		if now != before[k] {
			if now != "worker-4" {
				t.Errorf("worker-4 joining moved %s from %s to %s", k, before[k], now)
			}
			gained++
		}
	}
	if gained < 150 || gained > 350 { // a quarter of 1,000 is 250
		t.Errorf("worker-4 joining gained %d unclaimed keys, want about 250", gained)
	}
}

func BenchmarkDecide(b *testing.B) {
	items := balanceKeys()
	fresh := set(balanceNodes...)
	for b.Loop() {
		Decide("worker-1", fresh, items)
	}
}
