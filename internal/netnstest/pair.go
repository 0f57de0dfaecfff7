//go:build linux

package netnstest

import (
	"strings"
	"testing"
)

// maxIfname is the longest interface name Linux takes (IFNAMSIZ - 1).
const maxIfname = 15

// Pair is two namespaces joined by a veth pair: IfA in A, IfB in B. Both
// ends are down, without addresses; the test sets up the rest.
type Pair struct {
	A, B     *NS
	IfA, IfB string
}

// NewPair creates the namespaces prefix-<hex>a and prefix-<hex>b joined by
// the veth pair vk<hex>a ↔ vk<hex>b, all deleted when the test ends.
func NewPair(t testing.TB, prefix string) *Pair {
	t.Helper()
	s := randomHex(t)
	p := &Pair{
		A:   create(t, prefix+"-"+s+"a"),
		B:   create(t, prefix+"-"+s+"b"),
		IfA: "vk" + s + "a", IfB: "vk" + s + "b",
	}
	Veth(t, p.A, p.B, p.IfA, p.IfB)
	return p
}

// Veth creates ifA in a with its peer ifB in b (which may be a itself). It
// is created inside a, so nothing touches the host namespace, and goes away
// with the namespaces.
func Veth(t testing.TB, a, b *NS, ifA, ifB string) {
	t.Helper()
	for _, name := range []string{ifA, ifB} {
		if name == "" || len(name) > maxIfname || strings.ContainsAny(name, "/ ") {
			t.Fatalf("bad interface name %q: 1 to %d bytes, no '/' or space", name, maxIfname)
		}
	}
	a.IP(t, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", b.Name)
}
