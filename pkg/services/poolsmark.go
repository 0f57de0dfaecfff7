package services

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/vipkeeper/vipkeeper/pkg/services/ipam"
)

// AnnotationPools on the allocator claim says which pools its holder
// allocates from: "flags:" and a hash of its --services-pool values, or
// "objects" (AddressPool objects). The allocator writes it with every
// take of the role, so it costs no write of its own.
const AnnotationPools = "vipkeeper.io/pools"

// ReasonPoolsDiffer is the reason of the Warning Event on the allocator
// claim Lease from a node whose flag pools differ from the allocator's.
const ReasonPoolsDiffer = "PoolsDiffer"

// markObjects is AnnotationPools of a node that reads AddressPool objects.
const markObjects = "objects"

// poolsMark is AnnotationPools of a node: its pool source and, for flag
// pools, a hash of the pools in configuration order (the order is part
// of the configuration: it decides which pool serves first).
func poolsMark(objects bool, specs []ipam.PoolSpec) string {
	if objects {
		return markObjects
	}
	b, _ := json.Marshal(specs) // plain strings and bools: cannot fail
	sum := sha256.Sum256(b)
	// 64 bits tell a difference between two sets of flags with certainty
	// for any practical purpose, and keep the annotation short.
	return "flags:" + hex.EncodeToString(sum[:8])
}

// poolsDiffer is the rule: a node whose flag pools differ from those of
// the allocator's flags disagrees with it about which addresses exist. A
// node reading objects, or an allocator that does, is never compared:
// every reader of the objects sees the same pools (pools.Compile), and a
// flag node cannot compare its flags with objects it does not read.
// Unknown (no annotation) is no difference.
func poolsDiffer(mine, allocators string) bool {
	return strings.HasPrefix(mine, "flags:") && strings.HasPrefix(allocators, "flags:") && mine != allocators
}

// checkPools compares this node's flag pools with the allocator's, and
// reports a difference once per change: an error in the log, a Warning
// Event on the allocator claim, and the metric.
func (c *Controller) checkPools() {
	st := &c.st
	cl := st.claim(AllocatorKey)
	differ := false
	if cl != nil && cl.holder() != c.cfg.Node {
		differ = poolsDiffer(poolsMark(c.cfg.PoolObjects, c.cfg.Pools), cl.lease.Annotations[AnnotationPools])
	}
	if differ && !st.poolsDiffer {
		msg := "the --services-pool flags of node " + c.cfg.Node + " differ from those of the allocator node " + cl.holder() +
			": the nodes disagree about which addresses exist; give every node the same pools"
		c.log.Error("flag pools differ from the allocator node's", "allocator", cl.holder(),
			"mine", poolsMark(c.cfg.PoolObjects, c.cfg.Pools), "allocators", cl.lease.Annotations[AnnotationPools])
		c.recorder.Event(cl.lease, corev1.EventTypeWarning, ReasonPoolsDiffer, msg)
	}
	st.poolsDiffer = differ
	if c.deps.Observer != nil {
		c.deps.Observer.PoolsDiffer(differ)
	}
}
