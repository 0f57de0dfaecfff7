package services

import (
	"context"
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/vipkeeper/vipkeeper/pkg/services/ipam"
	"github.com/vipkeeper/vipkeeper/pkg/services/pools"
)

// ReasonAddressWithdrawn is the reason of the Warning Event on a Service
// whose address left every pool (its AddressPool was deleted, or edited
// so that it no longer holds the address): the address is no longer
// announced, and the Service is given a new one if a pool has one.
const ReasonAddressWithdrawn = "AddressWithdrawn"

// poolUsageEvery bounds how often the allocator rewrites a pool's status
// for a change of usage alone: creating 1,000 Services would otherwise
// cost 1,000 pool writes. A change of the Valid condition is written at
// once.
const poolUsageEvery = 10 * time.Second

// poolWrite is the allocator's bookkeeping of one pool's status writes.
type poolWrite struct {
	busy     bool
	wrote    time.Time // last successful write
	failedAt time.Time
}

// poolInformer lists and watches the AddressPool objects.
func (c *Controller) poolInformer() cache.SharedIndexInformer {
	res := c.deps.PoolInformers.Resource(pools.GVR)
	return c.informerVia(c.deps.PoolInformers, &unstructured.Unstructured{}, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		return res.List(ctx, o)
	}, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		return res.Watch(ctx, o)
	})
}

// poolsChanged: an AddressPool was added, changed or deleted.
type poolsChanged struct{}

func (poolsChanged) apply(c *Controller) { c.st.poolsDirty = true }

// poolObjects are the pool objects in the cache; one that does not
// convert is left out (the schema makes that impossible short of a
// newer, incompatible version of the CRD) and logged.
func (c *Controller) poolObjects() []*pools.AddressPool {
	var out []*pools.AddressPool
	for _, o := range c.poolObjs.List() {
		u, ok := o.(*unstructured.Unstructured)
		if !ok {
			continue
		}
		p, err := pools.FromUnstructured(u.Object)
		if err != nil {
			c.log.Error("AddressPool not understood; ignoring it", "pool", u.GetName(), "err", err)
			continue
		}
		out = append(out, p)
	}
	return out
}

// reloadPools derives the pools from the objects (pools.Compile). When
// the valid pools changed, the binder's check and the allocator use the
// new ones from this pass on: the allocator is rebuilt from the Services'
// statuses, and an address that left every pool is withdrawn from its
// Service with a Warning Event (allocate).
func (c *Controller) reloadPools() {
	st := &c.st
	st.poolsDirty = false
	compiled := pools.Compile(c.poolObjects(), c.cfg.Exclusions...)
	st.verdicts = compiled.Verdicts
	c.poolSelectors, c.poolPreferred = compiled.Selectors, compiled.Preferred
	c.setPoolIfaces(compiled.Interfaces)
	if slices.EqualFunc(compiled.Specs, c.poolSpecs, samePoolSpec) {
		return
	}
	next := ipam.None()
	if len(compiled.Specs) > 0 {
		var err error
		if next, err = ipam.New(compiled.Specs, c.cfg.Exclusions...); err != nil {
			// Compile accepted each pool with ipam.New against the others.
			c.log.Error("valid pools refused together; keeping the previous pools", "err", err)
			return
		}
	}
	names := make([]string, len(compiled.Specs))
	for i, s := range compiled.Specs {
		names[i] = s.Name
	}
	c.log.Info("address pools changed", "pools", names)
	c.pools, c.poolSpecs = next, compiled.Specs
	if st.alloc != nil {
		st.alloc = nil // rebuilt from the statuses on this pass
	}
}

func samePoolSpec(a, b ipam.PoolSpec) bool {
	return a.Name == b.Name && a.Manual == b.Manual && slices.Equal(a.Addresses, b.Addresses) && slices.Equal(a.Namespaces, b.Namespaces)
}

// newAllocator builds the allocator role's allocator from the current
// pools.
func (c *Controller) newAllocator() *ipam.Allocator {
	if len(c.poolSpecs) == 0 {
		return ipam.None()
	}
	a, err := ipam.New(c.poolSpecs, c.cfg.Exclusions...)
	if err != nil { // validated when the pools were set
		c.log.Error("building the allocator", "err", err)
		return ipam.None()
	}
	return a
}

// writePoolStatuses is the allocator's: each pool object's status says
// whether the pool is valid and, if so, its usage. Only the allocator
// writes them, because only it knows the usage, and one writer per pool
// means no two nodes fight over a status; every node computes the same
// verdicts.
func (c *Controller) writePoolStatuses(ctx context.Context) {
	if c.poolObjs == nil || c.st.alloc == nil {
		return
	}
	st := &c.st
	now := c.now()
	usage := st.alloc.Usage()
	for _, o := range c.poolObjects() {
		v, ok := st.verdicts[o.Name]
		if !ok { // being deleted
			continue
		}
		want := pools.StatusFor(o, v, usage, metav1.NewTime(now))
		if pools.SameStatus(o.Status, want) {
			continue
		}
		pw := st.poolWrites[o.Name]
		if pw == nil {
			pw = &poolWrite{}
			st.poolWrites[o.Name] = pw
		}
		usageOnly := pools.SameStatus(o.Status, pools.Status{ObservedGeneration: want.ObservedGeneration, Conditions: want.Conditions, Usage: o.Status.Usage})
		if pw.busy || now.Sub(pw.failedAt) < retryAfter || usageOnly && now.Sub(pw.wrote) < poolUsageEvery {
			continue
		}
		if !v.Valid && !slices.ContainsFunc(o.Status.Conditions, func(x metav1.Condition) bool { return x.Message == v.Message }) {
			c.log.Warn("address pool not valid", "pool", o.Name, "reason", v.Reason, "why", v.Message)
		}
		o.Status = want
		body, err := pools.ToUnstructured(o)
		if err != nil {
			c.log.Error("encoding a pool status", "pool", o.Name, "err", err)
			continue
		}
		pw.busy = true
		name := o.Name
		c.write(ctx, poolStatusWritten{name: name, err: context.Canceled}, func() event {
			_, err := c.deps.PoolWrites.Resource(pools.GVR).UpdateStatus(ctx, &unstructured.Unstructured{Object: body}, metav1.UpdateOptions{})
			if err != nil {
				c.log.Info("pool status write failed; deciding again", "pool", name, "err", err)
			}
			return poolStatusWritten{name: name, err: err}
		})
	}
	for name := range st.poolWrites {
		if _, ok := st.verdicts[name]; !ok && !st.poolWrites[name].busy {
			delete(st.poolWrites, name)
		}
	}
}

// poolStatusWritten is the result of a pool status write.
type poolStatusWritten struct {
	name string
	err  error
}

func (e poolStatusWritten) apply(c *Controller) {
	pw := c.st.poolWrites[e.name]
	if pw == nil {
		return
	}
	pw.busy = false
	if e.err != nil {
		pw.failedAt = c.now()
		return
	}
	pw.wrote = c.now()
}

// withdrawn warns a Service whose status address is in no pool any more.
func (c *Controller) withdrawn(s *corev1.Service, addrs []netip.Addr) {
	for _, a := range addrs {
		if !c.pools.InPool(a) {
			c.warnEvent(s, ReasonAddressWithdrawn, a.String()+" is in no address pool any more (its pool was deleted, or no longer holds it): it is no longer announced, and the Service gets a new address if a pool has one")
			return
		}
	}
}

// inPools keeps the addresses that are in a pool.
func (c *Controller) inPools(addrs []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, a := range addrs {
		if c.pools.InPool(a) {
			out = append(out, a)
		}
	}
	return out
}
