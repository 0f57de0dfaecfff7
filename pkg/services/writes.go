package services

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/vipkeeper/vipkeeper/pkg/services/ipam"
	"github.com/vipkeeper/vipkeeper/pkg/services/owner"
)

// writeClaim carries out a Take, Handoff or Delete in the background. Every
// write is a compare-and-swap: an update or delete on the resourceVersion
// we saw, or a create that fails if the claim exists.
func (c *Controller) writeClaim(ctx context.Context, d owner.Decision) {
	st := &c.st
	st.key(d.Key).inflight = true
	var cur *coordinationv1.Lease
	if cl := st.claim(d.Key); cl != nil {
		cur = cl.lease.DeepCopy()
	}
	self := c.cfg.Node
	term := st.tenure.Term()
	mark := poolsMark(c.cfg.PoolObjects, c.cfg.Pools)
	pool := ""
	if a, err := netip.ParseAddr(d.Key); err == nil {
		pool = c.pools.PoolOf(a)
	}
	c.log.Info("writing claim", "key", d.Key, "action", actionName(d.Action), "from", holderOf(cur), "to", d.To)
	c.write(ctx, claimWritten{key: d.Key, err: context.Canceled}, func() event {
		leases := c.deps.Client.CoordinationV1().Leases(c.cfg.Namespace)
		res := claimWritten{key: d.Key, term: term, self: d.Action == owner.Take, action: d.Action, from: holderOf(cur), created: cur == nil, to: d.To}
		now := metav1.NowMicro()
		switch {
		case d.Action == owner.Delete:
			pre := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &cur.ResourceVersion}}
			res.err = leases.Delete(ctx, cur.Name, pre)
			res.deleted = res.err == nil
		case cur == nil: // a Take of a new key
			res.lease, res.err = leases.Create(ctx, &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{
					Name: ClaimLeaseName(d.Key), Namespace: c.cfg.Namespace,
					Labels:      map[string]string{LabelRole: RoleClaim},
					Annotations: claimAnnotations(d.Key, mark, pool),
				},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(self), AcquireTime: &now, RenewTime: &now},
			}, metav1.CreateOptions{})
		default:
			to := self
			if d.Action == owner.Handoff {
				to = d.To
			}
			if d.Action == owner.Take {
				cur.Annotations = claimAnnotations(d.Key, mark, pool)
			}
			if holderOf(cur) != to || cur.Spec.AcquireTime == nil {
				// acquireTime is when the holder took it: "since" in
				// `vipkeeper status --services`. A holder writing its
				// own claim again (rule 4: a new term of its node
				// Lease) keeps it.
				cur.Spec.AcquireTime = &now
			}
			cur.Spec.HolderIdentity = nil
			if to != "" {
				cur.Spec.HolderIdentity = ptr.To(to)
			}
			cur.Spec.RenewTime = &now
			cur.Spec.LeaseTransitions = ptr.To(ptr.Deref(cur.Spec.LeaseTransitions, 0) + 1)
			res.lease, res.err = leases.Update(ctx, cur, metav1.UpdateOptions{})
		}
		if res.err != nil {
			c.log.Info("claim write failed; deciding again", "key", d.Key, "action", actionName(d.Action), "err", res.err)
			res.lease = nil
			if apierrors.IsConflict(res.err) || apierrors.IsAlreadyExists(res.err) {
				// Our copy is old (the watch may lag after an outage):
				// read the claim, so the next decision starts from it.
				if got, err := leases.Get(ctx, ClaimLeaseName(d.Key), metav1.GetOptions{}); err == nil {
					res.lease, res.err, res.refreshed = got, nil, true
				}
			}
		}
		return res
	})
}

// claimAnnotations are a claim's: its key; on the allocator claim the
// holder's pools (AnnotationPools); on an address's claim its pool
// (AnnotationPool) when the holder took it.
func claimAnnotations(key, mark, pool string) map[string]string {
	a := map[string]string{AnnotationClaimKey: key}
	if key == AllocatorKey {
		a[AnnotationPools] = mark
	}
	if pool != "" {
		a[AnnotationPool] = pool
	}
	return a
}

// write runs one API write in the background, at most Config.Writers at
// once, and hands its result to the loop; if ctx ends before a slot is
// free, the loop gets cancelled instead.
func (c *Controller) write(ctx context.Context, cancelled event, do func() event) {
	c.writes.Add(1)
	go func() {
		defer c.writes.Done()
		select {
		case c.writeSlot <- struct{}{}:
		case <-ctx.Done():
			c.send(cancelled)
			return
		}
		res := do()
		<-c.writeSlot
		c.send(res)
	}()
}

func holderOf(l *coordinationv1.Lease) string {
	if l == nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

func actionName(a owner.Action) string {
	switch a {
	case owner.Bind:
		return "bind"
	case owner.Take:
		return "take"
	case owner.Handoff:
		return "handoff"
	case owner.Delete:
		return "delete"
	}
	return "none"
}

// allocate runs the allocator role: it gives every Service of ours its
// addresses and writes the statuses that differ. Taking the role rebuilds
// the allocator from the statuses, oldest Service first, so that a
// contested address stays with the Service that had it first.
func (c *Controller) allocate(ctx context.Context, svcs []*corev1.Service) {
	st := &c.st
	if st.alloc == nil {
		st.alloc = c.newAllocator()
		for _, s := range st.svcs {
			s.allocated, s.seen = nil, ""
		}
		restored := 0
		for _, s := range svcs {
			addrs := ingressAddrs(s)
			if len(addrs) == 0 {
				continue
			}
			req, err := ipam.RequestForService(s)
			if err == nil {
				_, err = st.alloc.Restore(req, addrs)
			}
			if err != nil {
				c.log.Info("status addresses not restored; allocating again", "service", key(s), "addrs", addrs, "err", err)
				c.withdrawn(s, addrs)
				continue
			}
			restored++
			for _, a := range addrs {
				if why, ok := st.alloc.Excluded(a); ok {
					// Kept: taking an address from a running Service
					// is the operator's call, not ours.
					c.warnEvent(s, ReasonAddressExcluded, fmt.Sprintf("%s is kept, but would not be handed out now: it is %s", a, why))
				}
			}
		}
		c.log.Info("allocator role taken", "services", len(svcs), "restored", restored)
	}
	present := make(map[string]bool, len(svcs))
	for _, s := range svcs {
		k := key(s)
		present[k] = true
		ss := st.svc(k)
		if s.ResourceVersion != "" && ss.seen == s.ResourceVersion {
			continue // handled this version already
		}
		req, err := ipam.RequestForService(s)
		var al ipam.Allocation
		if err == nil {
			al, err = st.alloc.Allocate(req)
		}
		if err != nil {
			c.warn(s, err)
			// An address that left every pool is no longer announced;
			// the status must not keep offering it.
			if kept := c.inPools(ingressAddrs(s)); len(kept) < len(ingressAddrs(s)) {
				if !c.syncStatus(ctx, s, kept) {
					continue // try again on the next pass
				}
			}
			ss.seen = s.ResourceVersion
			continue
		}
		ss.warned = ""
		ss.allocated = al.Addrs
		if c.syncStatus(ctx, s, al.Addrs) {
			ss.seen = s.ResourceVersion
		}
	}
	for k, ss := range st.svcs {
		if present[k] {
			continue
		}
		addrs := ss.allocated
		if addrs != nil {
			st.alloc.Release(k)
		}
		ss.allocated, ss.seen, ss.warned = nil, "", ""
		if !ss.statusBusy {
			delete(st.svcs, k)
		}
		if addrs == nil {
			continue
		}
		// Still there but no longer ours (its type changed): take our
		// addresses out of its status.
		if o, ok, _ := c.services.GetByKey(k); ok {
			if s, ok := o.(*corev1.Service); ok {
				c.clearStatus(ctx, s, addrs)
			}
		}
	}
}

func key(s *corev1.Service) string { return s.Namespace + "/" + s.Name }

// warn records why a Service's request cannot be met, once per reason.
func (c *Controller) warn(s *corev1.Service, err error) {
	c.warnEvent(s, ReasonAllocationFailed, err.Error())
}

// warnEvent sends a Warning Event on a Service, once per message.
func (c *Controller) warnEvent(s *corev1.Service, reason, msg string) {
	k := key(s)
	ss := c.st.svc(k)
	if ss.warned == msg {
		return
	}
	ss.warned = msg
	c.log.Warn("Warning on Service", "service", k, "reason", reason, "message", msg)
	c.recorder.Event(s, corev1.EventTypeWarning, reason, msg)
}

// syncStatus writes addrs as the Service's ingress if it differs. It
// reports whether the status is settled (equal, or a write is under way).
func (c *Controller) syncStatus(ctx context.Context, s *corev1.Service, addrs []netip.Addr) bool {
	want := make([]corev1.LoadBalancerIngress, len(addrs))
	for i, a := range addrs {
		want[i] = corev1.LoadBalancerIngress{IP: a.String(), IPMode: ptr.To(corev1.LoadBalancerIPModeVIP)}
	}
	if sameIngress(s.Status.LoadBalancer.Ingress, want) {
		return true
	}
	if len(addrs) > 0 {
		c.log.Info("assigning addresses", "service", key(s), "addrs", joinAddrs(addrs))
	}
	return c.writeStatus(ctx, s, want)
}

// clearStatus removes addrs from the ingress of a Service that is no
// longer ours.
func (c *Controller) clearStatus(ctx context.Context, s *corev1.Service, addrs []netip.Addr) {
	keep := slices.DeleteFunc(slices.Clone(s.Status.LoadBalancer.Ingress), func(in corev1.LoadBalancerIngress) bool {
		a, err := netip.ParseAddr(in.IP)
		return err == nil && slices.Contains(addrs, a.Unmap())
	})
	if len(keep) != len(s.Status.LoadBalancer.Ingress) {
		c.log.Info("removing our addresses from a Service that is no longer ours", "service", key(s), "addrs", joinAddrs(addrs))
		c.writeStatus(ctx, s, keep)
	}
}

// statusPatch is a merge patch of status.loadBalancer, conditional on the
// resourceVersion we saw: the API server refuses it with a conflict if the
// Service changed since, and the next pass decides again.
type statusPatch struct {
	Metadata struct {
		ResourceVersion string `json:"resourceVersion"`
	} `json:"metadata"`
	Status struct {
		LoadBalancer struct {
			Ingress []corev1.LoadBalancerIngress `json:"ingress"`
		} `json:"loadBalancer"`
	} `json:"status"`
}

// writeStatus sends one status patch on the version we saw. Only the
// load balancer status travels, so the caches may keep a trimmed copy of
// each Service.
func (c *Controller) writeStatus(ctx context.Context, s *corev1.Service, ingress []corev1.LoadBalancerIngress) bool {
	k := key(s)
	ss := c.st.svc(k)
	if ss.statusBusy || rvOf(s.ResourceVersion) < ss.statusWrote || c.now().Sub(ss.statusFailed) < retryAfter {
		return ss.statusBusy
	}
	var p statusPatch
	p.Metadata.ResourceVersion = s.ResourceVersion
	p.Status.LoadBalancer.Ingress = ingress
	if p.Status.LoadBalancer.Ingress == nil {
		p.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{} // clear, not "leave as is"
	}
	body, err := json.Marshal(p)
	if err != nil {
		c.log.Error("encoding a status patch", "service", k, "err", err)
		return false
	}
	ss.statusBusy = true
	c.write(ctx, statusWritten{key: k, err: context.Canceled}, func() event {
		res := statusWritten{key: k}
		got, err := c.deps.Client.CoreV1().Services(s.Namespace).Patch(ctx, s.Name, types.MergePatchType, body, metav1.PatchOptions{}, "status")
		if err != nil {
			c.log.Info("status write failed; deciding again", "service", k, "err", err)
			res.err = err
		} else {
			res.rv = rvOf(got.ResourceVersion)
		}
		return res
	})
	return true
}

func sameIngress(a, b []corev1.LoadBalancerIngress) bool {
	return slices.EqualFunc(a, b, func(x, y corev1.LoadBalancerIngress) bool {
		return x.IP == y.IP && x.Hostname == "" && len(x.Ports) == 0 &&
			ptr.Deref(x.IPMode, "") == ptr.Deref(y.IPMode, "")
	})
}

func joinAddrs(addrs []netip.Addr) string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}
