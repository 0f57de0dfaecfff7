package ipam

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// PoolSpec is one address pool as configuration writes it: the YAML/JSON
// layer fills it directly, the flag layer through ParsePool. New validates
// it.
type PoolSpec struct {
	// Name identifies the pool (a DNS-1123 label): in the
	// vipkeeper.io/address-pool annotation, in errors and in metrics.
	Name string `json:"name"`
	// Addresses are CIDRs or inclusive ranges "FIRST-LAST" (see ParseRange).
	Addresses []string `json:"addresses"`
	// Namespaces that may use the pool; empty means every namespace.
	Namespaces []string `json:"namespaces,omitempty"`
	// Manual pools hand out addresses only to Services that ask for the
	// pool (vipkeeper.io/address-pool) or for one of its addresses: an
	// AddressPool with autoAssign false.
	Manual bool `json:"manual,omitempty"`
}

// ParsePool parses the flag form of a pool:
//
//	pool=NAME;addresses=ITEM[,ITEM…][;namespaces=NS[,NS…]]
//
// "cidr" and "range" are accepted as synonyms of "addresses", and address
// keys may repeat. Spaces around keys and items are ignored. ParsePool
// checks the syntax only; New checks the addresses and the namespaces.
func ParsePool(s string) (PoolSpec, error) {
	var spec PoolSpec
	seen := map[string]bool{}
	for field := range strings.SplitSeq(s, ";") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		key, value, ok := strings.Cut(field, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok {
			return PoolSpec{}, fmt.Errorf("pool %q: field %q is not KEY=VALUE: %w", s, field, ErrInvalidPool)
		}
		if value == "" {
			return PoolSpec{}, fmt.Errorf("pool %q: %s is empty: %w", s, key, ErrInvalidPool)
		}
		switch key {
		case "pool", "namespaces":
			if seen[key] {
				return PoolSpec{}, fmt.Errorf("pool %q: %s given twice: %w", s, key, ErrInvalidPool)
			}
			seen[key] = true
			if key == "pool" {
				spec.Name = value
			} else {
				spec.Namespaces = splitList(value)
			}
		case "addresses", "cidr", "range":
			spec.Addresses = append(spec.Addresses, splitList(value)...)
		default:
			return PoolSpec{}, fmt.Errorf("pool %q: unknown key %q (want pool, addresses, namespaces): %w", s, key, ErrInvalidPool)
		}
	}
	if spec.Name == "" {
		return PoolSpec{}, fmt.Errorf("pool %q: missing pool=NAME: %w", s, ErrInvalidPool)
	}
	if len(spec.Addresses) == 0 {
		return PoolSpec{}, fmt.Errorf("pool %q: missing addresses=…: %w", s, ErrInvalidPool)
	}
	return spec, nil
}

// splitList splits a comma list and trims its items; empty items are kept
// so that the validator can name them.
func splitList(s string) []string {
	items := strings.Split(s, ",")
	for i := range items {
		items[i] = strings.TrimSpace(items[i])
	}
	return items
}

// Range is an inclusive run of addresses of one family.
type Range struct {
	First, Last netip.Addr
	// Prefix is the CIDR the range was written as; invalid for a range
	// written "FIRST-LAST". For an IPv4 CIDR shorter than /31, First and
	// Last exclude its network and broadcast addresses.
	Prefix netip.Prefix
}

// ParseRange parses one pool item: a CIDR in canonical form (no host bits
// set) or "FIRST-LAST" with FIRST ≤ LAST of the same family. Zoned and
// IPv4-mapped IPv6 addresses are refused.
func ParseRange(s string) (Range, error) {
	if s == "" {
		return Range{}, fmt.Errorf("empty address item: %w", ErrInvalidPool)
	}
	if first, last, ok := strings.Cut(s, "-"); ok {
		a, err := parseAddr(strings.TrimSpace(first))
		if err != nil {
			return Range{}, fmt.Errorf("range %q: %w", s, err)
		}
		b, err := parseAddr(strings.TrimSpace(last))
		if err != nil {
			return Range{}, fmt.Errorf("range %q: %w", s, err)
		}
		switch {
		case a.Is4() != b.Is4():
			return Range{}, fmt.Errorf("range %q mixes IPv4 and IPv6: %w", s, ErrInvalidPool)
		case b.Less(a):
			return Range{}, fmt.Errorf("range %q is reversed (first after last): %w", s, ErrInvalidPool)
		}
		return Range{First: a, Last: b}, nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return Range{}, fmt.Errorf("%q is neither a CIDR nor a FIRST-LAST range: %w", s, ErrInvalidPool)
	}
	if p.Addr().Is4In6() || p.Addr().Zone() != "" {
		return Range{}, fmt.Errorf("CIDR %q: IPv4-mapped or zoned address: %w", s, ErrInvalidPool)
	}
	if p.Masked() != p {
		return Range{}, fmt.Errorf("CIDR %q has host bits set (did you mean %s?): %w", s, p.Masked(), ErrInvalidPool)
	}
	r := Range{First: p.Addr(), Last: lastOf(p), Prefix: p}
	if p.Addr().Is4() && p.Bits() < 31 {
		r.First, r.Last = r.First.Next(), r.Last.Prev()
	}
	return r, nil
}

func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return netip.Addr{}, fmt.Errorf("bad address %q: %w", s, ErrInvalidPool)
	case a.Zone() != "":
		return netip.Addr{}, fmt.Errorf("zoned address %q: %w", s, ErrInvalidPool)
	case a.Is4In6():
		return netip.Addr{}, fmt.Errorf("IPv4-mapped address %q (write the IPv4 address): %w", s, ErrInvalidPool)
	}
	return a, nil
}

// String returns the form ParseRange reads back to the same Range.
func (r Range) String() string {
	if r.Prefix.IsValid() {
		return r.Prefix.String()
	}
	return r.First.String() + "-" + r.Last.String()
}

// Contains reports whether a is one of the range's usable addresses.
func (r Range) Contains(a netip.Addr) bool {
	return a.Is4() == r.First.Is4() && r.First.Compare(a) <= 0 && a.Compare(r.Last) <= 0
}

// extent is the range as written: a CIDR including its network and
// broadcast addresses. Overlap and reserved-block checks use it.
func (r Range) extent() (netip.Addr, netip.Addr) {
	if r.Prefix.IsValid() {
		return r.Prefix.Addr(), lastOf(r.Prefix)
	}
	return r.First, r.Last
}

func overlaps(a, b Range) bool {
	a0, a1 := a.extent()
	b0, b1 := b.extent()
	return a0.Is4() == b0.Is4() && a0.Compare(b1) <= 0 && b0.Compare(a1) <= 0
}

// lastOf returns the last address of p.
func lastOf(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := range b {
		keep := min(max(p.Bits()-8*i, 0), 8) // network bits in this byte
		b[i] |= byte(0xff >> keep)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// reserved blocks can never be a LoadBalancer address on a LAN segment.
var reserved = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "\"this network\""},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved (and broadcast)"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::ffff:0:0/96"), "IPv4-mapped"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// checkReserved returns a sentence if r touches a reserved block.
func checkReserved(r Range) string {
	for _, res := range reserved {
		if overlaps(r, Range{Prefix: res.prefix}) {
			return fmt.Sprintf("overlaps %s block %s", res.what, res.prefix)
		}
	}
	return ""
}

// pool is a validated PoolSpec with its allocation state.
type pool struct {
	name       string
	manual     bool            // only for Services that ask for it
	namespaces map[string]bool // nil: every namespace
	spans      []*span         // IPv4 first, then by first address
}

func (p *pool) allows(namespace string) bool {
	return p.namespaces == nil || p.namespaces[namespace]
}

// compilePools validates specs and builds pools, in configuration order;
// the exclusions' addresses are never handed out.
func compilePools(specs []PoolSpec, excl []Exclusion) ([]*pool, error) {
	if len(specs) == 0 {
		return nil, fmt.Errorf("no address pools: %w", ErrInvalidPool)
	}
	type item struct {
		pool string
		r    Range
	}
	var items []item
	names := map[string]bool{}
	pools := make([]*pool, 0, len(specs))
	for _, s := range specs {
		if errs := validation.IsDNS1123Label(s.Name); len(errs) > 0 {
			return nil, fmt.Errorf("pool %q: bad name: %s: %w", s.Name, errs[0], ErrInvalidPool)
		}
		if names[s.Name] {
			return nil, fmt.Errorf("pool %q defined twice: %w", s.Name, ErrInvalidPool)
		}
		names[s.Name] = true
		if len(s.Addresses) == 0 {
			return nil, fmt.Errorf("pool %q has no addresses: %w", s.Name, ErrInvalidPool)
		}
		p := &pool{name: s.Name, manual: s.Manual}
		for _, ns := range s.Namespaces {
			if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
				return nil, fmt.Errorf("pool %q: namespace %q: %s: %w", s.Name, ns, errs[0], ErrInvalidPool)
			}
			if p.namespaces == nil {
				p.namespaces = map[string]bool{}
			}
			p.namespaces[ns] = true
		}
		for _, a := range s.Addresses {
			r, err := ParseRange(a)
			if err != nil {
				return nil, fmt.Errorf("pool %q: %w", s.Name, err)
			}
			if why := checkReserved(r); why != "" {
				return nil, fmt.Errorf("pool %q: %s %s: %w", s.Name, r, why, ErrInvalidPool)
			}
			items = append(items, item{s.Name, r})
			p.spans = append(p.spans, newSpan(r, excl))
		}
		slices.SortFunc(p.spans, func(a, b *span) int { return compareRange(a.r, b.r) })
		pools = append(pools, p)
	}
	// Sorted by first address, an item overlaps an earlier one exactly
	// when it starts before the furthest end seen so far in its family.
	slices.SortStableFunc(items, func(a, b item) int { return compareRange(a.r, b.r) })
	var reach int // index of the earlier item that ends last
	for i := 1; i < len(items); i++ {
		if items[reach].r.First.Is4() != items[i].r.First.Is4() {
			reach = i
			continue
		}
		if overlaps(items[i].r, items[reach].r) {
			return nil, fmt.Errorf("pool %q: %s overlaps %s of pool %q: %w",
				items[i].pool, items[i].r, items[reach].r, items[reach].pool, ErrInvalidPool)
		}
		_, end := items[i].r.extent()
		if _, far := items[reach].r.extent(); far.Less(end) {
			reach = i
		}
	}
	return pools, nil
}

// compareRange orders IPv4 before IPv6, then by first address.
func compareRange(a, b Range) int {
	a0, _ := a.extent()
	b0, _ := b.extent()
	return a0.Compare(b0) // netip orders IPv4 before IPv6
}
