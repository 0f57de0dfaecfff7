package services

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"

	"github.com/vipkeeper/vipkeeper/pkg/services/owner"
)

// Who announces what, readable with kubectl alone:
//
//   - the current answer is the claim Lease of each address, which every
//     owner change writes anyway: spec.holderIdentity is the node,
//     spec.acquireTime since when, annotation AnnotationPool the pool.
//     No write of its own (`vipkeeper status --services` lists them);
//   - the history is a Normal Event ReasonAnnouncerChanged on each Service
//     of the address, sent by the node whose claim write moved it: the
//     new owner on a takeover, the old one on a handoff. One Event per
//     Service per move, none for a new address (its status says it), a
//     claim written again by its holder, or a released claim taken (a
//     restart releases its node's claims and takes them back). They go through the Events
//     client (Deps.Events), whose connections and rate limit are not the
//     claim writes': after a crash a survivor takes ~170 addresses at
//     once, and their Events must never hold up the takeovers.

// AnnotationPool on an address's claim names its pool when the holder
// took it.
const AnnotationPool = "vipkeeper.io/pool"

// ReasonAnnouncerChanged is the reason of the Normal Event on a Service
// whose address moved to another node.
const ReasonAnnouncerChanged = "AnnouncerChanged"

// announcerChanged sends the Event of a claim write that moved an address.
func (c *Controller) announcerChanged(e claimWritten) {
	addr, err := netip.ParseAddr(e.key)
	if err != nil || e.created {
		return // the allocator role, or a new address
	}
	var msg string
	switch {
	case e.action == owner.Take && e.from == c.cfg.Node:
		return // written again by its holder
	case e.action == owner.Take && e.from == "":
		// A released claim taken: most often its own holder's, released
		// at a restart and taken back; an Event each would cost S writes
		// per restart and say nothing. The claim says who holds it.
		return
	case e.action == owner.Take:
		msg = fmt.Sprintf("%s is announced by node %s (taken over from %s)", addr, c.cfg.Node, e.from)
	case e.action == owner.Handoff && e.to != "":
		msg = fmt.Sprintf("%s is announced by node %s (handed over by %s)", addr, e.to, c.cfg.Node)
	default:
		return // a release or a delete: nobody announces it now
	}
	for _, s := range c.st.byAddr[addr] {
		c.announcer.Event(s, corev1.EventTypeNormal, ReasonAnnouncerChanged, msg)
	}
}
