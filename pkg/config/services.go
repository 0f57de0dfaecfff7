package config

import (
	"net/netip"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/vipkeeper/vipkeeper/pkg/services/ipam"
)

// applyServicePools parses --services-pool (ipam.ParsePool). A pool holds
// commas and semicolons of its own, so several pools in one value (as an
// environment variable has to write them) are told apart by their keys:
// each pool= field after the first starts the next pool.
func applyServicePools(c *Config, vals []string) error {
	c.ServicePools = c.ServicePools[:0]
	for _, s := range poolItems(vals) {
		p, err := ipam.ParsePool(s)
		if err != nil {
			return err
		}
		c.ServicePools = append(c.ServicePools, p)
	}
	return nil
}

// poolItems splits values into one string per pool: a pool= field starts
// a new pool once the current one has its pool= field. Blank values give
// nothing.
func poolItems(vals []string) []string {
	var items []string
	for _, v := range vals {
		var cur []string
		named := false
		for field := range strings.SplitSeq(v, ";") {
			if key, _, ok := strings.Cut(field, "="); ok && strings.TrimSpace(key) == "pool" {
				if named {
					items = append(items, strings.Join(cur, ";"))
					cur = nil
				}
				named = true
			}
			cur = append(cur, field)
		}
		if s := strings.Join(cur, ";"); strings.TrimSpace(s) != "" {
			items = append(items, s)
		}
	}
	return items
}

// validateServices checks the services-mode settings together: the pools
// as a set (ipam.New refuses overlaps, duplicate names and reserved
// blocks), and that no pool holds a VIP: the allocator would hand the
// control-plane VIP to a Service, and two owners would bind it.
func (c *Config) validateServices() error {
	if !c.Services {
		if len(c.ServicePools) > 0 {
			return bad("services-pool", "needs --services")
		}
		if c.ServicesDefaultClass {
			return bad("services-default-class", "needs --services")
		}
		if c.ServicePoolObjects {
			return bad("services-pool-objects", "needs --services")
		}
		if c.ServicesNamespace != "" {
			return bad("services-namespace", "needs --services")
		}
	} else {
		if errs := validation.IsDNS1123Label(c.ServicesLeaseNamespace()); len(errs) > 0 {
			return bad("services-namespace", "%q is not a valid namespace: %s", c.ServicesNamespace, errs[0])
		}
		if c.ServicePoolObjects {
			if len(c.ServicePools) > 0 {
				// Two sources of pools would let one node's pools differ
				// from another's: which addresses exist must be one answer.
				return relation([]string{"services-pool", "services-pool-objects"}, "flag pools and AddressPool objects cannot be mixed: give one or the other")
			}
			return nil
		}
		if len(c.ServicePools) == 0 {
			return bad("services-pool", "--services needs at least one pool, e.g. pool=default;addresses=192.0.2.0/28")
		}
		if _, err := ipam.New(c.ServicePools); err != nil {
			return bad("services-pool", "%w", err)
		}
		for _, p := range c.ServicePools {
			for _, item := range p.Addresses {
				r, err := ipam.ParseRange(item) // cannot fail: ipam.New parsed it
				if err != nil {
					return bad("services-pool", "pool %q: %w", p.Name, err)
				}
				for _, vip := range c.VIPs {
					if inItem(r, vip) {
						return relation([]string{"services-pool", "vip"}, "pool %q: %s holds the VIP %s (--vip); a VIP must not be a Service address", p.Name, item, vip)
					}
				}
			}
		}
	}
	return nil // --services-qps and --services-burst: in the bounds table
}

// ServicesLeaseNamespace is where services mode keeps its node and claim
// Leases: --services-namespace, or the lease namespace when it is unset,
// which is where they were before the option existed (docs/services.md).
func (c *Config) ServicesLeaseNamespace() string {
	if c.ServicesNamespace != "" {
		return c.ServicesNamespace
	}
	return c.LeaseNamespace
}

// inItem reports whether a is in r as written: a CIDR's network and
// broadcast addresses included, as the pools' overlap check counts them.
func inItem(r ipam.Range, a netip.Addr) bool {
	if r.Prefix.IsValid() {
		return r.Prefix.Contains(a)
	}
	return r.Contains(a)
}
