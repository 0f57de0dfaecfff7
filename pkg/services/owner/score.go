package owner

// FNV-1a 64-bit parameters (the same as hash/fnv's New64a), inlined so that
// Score does not allocate.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// Score is the rendezvous (highest-random-weight) hash of key and node: the
// node with the highest Score among the eligible ones owns the key.
//
// It is FNV-1a 64 over key, a NUL byte and node, passed through the
// splitmix64 finalizer so that keys differing in one character (adjacent
// addresses) spread over all nodes. The NUL separator keeps ("ab", "c") and
// ("a", "bc") apart; neither addresses nor node names contain NUL.
//
// Score must NEVER change, not even its constants: during a rolling upgrade
// nodes of two versions must agree on every owner. TestScoreGolden pins it.
func Score(key, node string) uint64 {
	h := uint64(fnvOffset64)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= fnvPrime64
	}
	h *= fnvPrime64 // the NUL separator: h ^= 0 changes nothing
	for i := 0; i < len(node); i++ {
		h ^= uint64(node[i])
		h *= fnvPrime64
	}
	return mix64(h)
}

// mix64 is the splitmix64 finalizer (Steele, Lea, Flood 2014), a bijection
// on uint64 in which every input bit flips about half of the output bits.
// FNV alone changes little in the high bits when only the last byte of the
// key differs.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// better reports whether node a with score sa beats node b with score sb:
// the higher score wins, and on a tie the smaller name.
func better(sa uint64, a string, sb uint64, b string) bool {
	if sa != sb {
		return sa > sb
	}
	return a < b
}

// highest returns the node of nodes with the highest Score for key, or ""
// if nodes is empty. Empty names are skipped; duplicates are harmless.
func highest(key string, nodes []string) string {
	best, bestScore := "", uint64(0)
	for _, n := range nodes {
		if n == "" {
			continue
		}
		s := Score(key, n)
		if best == "" || better(s, n, bestScore, best) {
			best, bestScore = n, s
		}
	}
	return best
}
