package pools

import (
	"strings"
	"testing"

	"github.com/vipkeeper/vipkeeper/pkg/services/ipam"
)

// FuzzCompile: whatever the objects hold (the schema may be older than
// the daemon, or bypassed), Compile does not panic, judges every object
// not being deleted, and its valid pools are valid together: the binder
// and the allocator build them with ipam.New.
func FuzzCompile(f *testing.F) {
	f.Add("a", "203.0.113.128/25", "b", "203.0.113.200-203.0.113.210", 0)
	f.Add("a", "2001:db8:1::/64,203.0.113.0/24", "a", "2001:db8:1::5-2001:db8:1::1", 1)
	f.Add("x.y", "127.0.0.1/8", "", ",", 2)
	f.Fuzz(func(t *testing.T, n1, a1, n2, a2 string, age int) {
		objs := []*AddressPool{obj(n1, 0, strings.Split(a1, ",")...), obj(n2, age%5, strings.Split(a2, ",")...)}
		got := Compile(objs)
		if n1 != n2 && len(got.Verdicts) != 2 {
			t.Errorf("verdicts %v; want one per object", got.Verdicts)
		}
		if len(got.Specs) > 0 {
			if _, err := ipam.New(got.Specs); err != nil {
				t.Errorf("valid pools %v refused together: %v", got.Specs, err)
			}
		}
	})
}
