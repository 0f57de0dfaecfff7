package election

import (
	"sync"

	coordinationv1 "k8s.io/api/coordination/v1"
)

// watched is the Lease as this node's watch last delivered it, while the
// watch is healthy: the lock's Get is served from it, so a follower makes
// no request while it follows. client-go's Run still runs (its loop is
// what campaigns, renews and releases, and replacing it would mean a second
// implementation of the election); only its reads stop reaching the API
// server. That is safe because the read is only ever advisory: every write
// the Run makes is a compare-and-swap on the resourceVersion it read, so a
// write based on a Lease the watch delivered late fails with a conflict
// instead of overwriting a newer renewal, and the conflict drops the copy
// (the next read goes to the API server).
//
// The copy is valid from the first event of a watch until the watch fails
// (a watch whose window ended is replaced at once, and the copy stands
// until the new one's first event), a write of ours fails, or the Lease is
// deleted. While it is not valid (before the watch is established, after
// it failed, without a watch at all) the lock reads the API server, as
// client-go's own lock does.
type watched struct {
	mu    sync.Mutex // guards lease
	lease *coordinationv1.Lease
}

// set records a Lease the watch delivered.
func (w *watched) set(l *coordinationv1.Lease) {
	w.mu.Lock()
	w.lease = l
	w.mu.Unlock()
}

// drop invalidates the copy: the next read goes to the API server.
func (w *watched) drop() {
	if w != nil {
		w.set(nil)
	}
}

// get returns the copy, or nil when there is no valid one (or no watch: w
// is nil). The caller must not change it.
func (w *watched) get() *coordinationv1.Lease {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lease
}
