package ipam

import (
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// PoolUsage is the size and use of one family of one pool.
type PoolUsage struct {
	Pool   string
	Family corev1.IPFamily
	Size   float64 // usable addresses (a float64: an IPv6 pool can exceed 2^64)
	Used   int
}

// Usage returns the usage of every pool and family, in configuration
// order, IPv4 first; the services controller exports it as the metric
// vipkeeper_services_pool_addresses (metrics.SetPoolUsage).
func (a *Allocator) Usage() []PoolUsage {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []PoolUsage
	for _, p := range a.pools {
		for _, s := range p.spans {
			f := family(s.r.First.Is4())
			if n := len(out); n == 0 || out[n-1].Pool != p.name || out[n-1].Family != f {
				out = append(out, PoolUsage{Pool: p.name, Family: f})
			}
			out[len(out)-1].Size += s.size()
			out[len(out)-1].Used += s.used
		}
	}
	return out
}

func (e *entry) allocation() Allocation {
	return Allocation{Key: e.key, Addrs: slices.Clone(e.addrs), Pools: slices.Clone(e.pools)}
}

// InPool reports whether x is an address some pool may hand out. Every
// node checks it before binding an address it read from a status, so
// that an edited status cannot make it bind an address outside the pools.
func (a *Allocator) InPool(x netip.Addr) bool {
	p, _ := a.locate(x.Unmap())
	return p != nil
}

// PoolOf names the pool that holds x, or "".
func (a *Allocator) PoolOf(x netip.Addr) string {
	if p, _ := a.locate(x.Unmap()); p != nil {
		return p.name
	}
	return ""
}
