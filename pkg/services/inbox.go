package services

import (
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/mailbox"
	"github.com/vipkeeper/vipkeeper/pkg/election"
)

// Inbox is how the rest of the daemon reaches the controller's loop. It is
// built first and handed to the components that report to the loop (the
// node Lease's election, the health prober, the watchdog, the guard) and
// then to New, so that no component needs the Controller itself. Senders
// block until the loop takes the event, and return at once after the loop
// has ended.
type Inbox struct {
	box *mailbox.Box[event] // closed when the loop ends
	// published is what the node Lease's writes publish of the pool
	// interfaces (NodeLeaseAnnotations); the loop stores it.
	published atomic.Pointer[string]
}

// NewInbox returns an empty Inbox.
func NewInbox() *Inbox {
	// A burst of Lease events (a thousand claims after an informer
	// restart) should not block the informers' goroutines.
	return &Inbox{box: mailbox.New[event](1024)}
}

// stop ends the inbox: senders return at once from now on.
func (in *Inbox) stop() { in.box.Close() }

func (in *Inbox) send(ev event) { in.box.Send(ev) }

// NodeLeaseEvent hands the loop an event of this node's own Lease.
func (in *Inbox) NodeLeaseEvent(ev election.Event) { in.send(nodeLeaseEvent(ev)) }

// Health reports the node's health.
func (in *Inbox) Health(healthy bool) { in.send(healthEvent(healthy)) }

// APIReachable reports the watchdog's verdict.
func (in *Inbox) APIReachable(up bool) { in.send(apiEvent(up)) }

// Drain tells the controller that the node is shutting down: from now on
// it takes no claims and runs no allocator, so peers need not wait for
// what it would have taken. Its node Lease is released when Start returns.
func (in *Inbox) Drain() { in.send(drainEvent{}) }

// Witness reports the latest instant a peer was heard on the VIP's link
// (pkg/witness): the evidence a ride past the deadline needs.
func (in *Inbox) Witness(heard time.Time) { in.send(witnessEvent(heard)) }

// Claimed reports another host claiming addr on the wire.
func (in *Inbox) Claimed(addr netip.Addr) { in.send(wireClaimEvent(addr)) }
