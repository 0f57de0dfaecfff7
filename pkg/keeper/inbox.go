package keeper

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"

	"github.com/vipkeeper/vipkeeper/internal/mailbox"
	"github.com/vipkeeper/vipkeeper/pkg/election"
)

// Inbox is how the rest of the daemon reaches the keeper's loop. It is
// built first and handed to every component that reports to the loop (the
// election, the health prober, the watchdog, the binder, the guard, the
// services controller) and last to New, so that no component needs the
// Keeper itself. Senders block until the loop takes the event, and return
// at once after the loop has ended.
type Inbox struct {
	box *mailbox.Box[event] // closed when the loop ends
}

// NewInbox returns an empty Inbox.
func NewInbox() *Inbox {
	// Events are few (a handful per second at most); the buffer lets
	// senders return while the loop is binding.
	return &Inbox{box: mailbox.New[event](64)}
}

func (in *Inbox) send(ev event) { in.box.Send(ev) }

// Notify hands an election event to the loop (the election's notify).
func (in *Inbox) Notify(ev election.Event) { in.send(electionEvent(ev)) }

// Health reports the node's health; reason says why it is unhealthy.
func (in *Inbox) Health(healthy bool, reason string) {
	in.send(healthEvent{healthy: healthy, reason: reason})
}

// APIServerReady reports the check of this node's own API server
// (pkg/apicheck); reason says why it is not ready. It counts only with
// Config.CheckAPIServer.
func (in *Inbox) APIServerReady(ready bool, reason string) {
	in.send(apiServerEvent{ready: ready, reason: reason})
}

// APIReachable reports the watchdog's verdict.
func (in *Inbox) APIReachable(up bool) { in.send(apiEvent(up)) }

// Claimed reports another host claiming one of our VIPs on the wire.
func (in *Inbox) Claimed(addr netip.Addr, mac net.HardwareAddr, kind string) {
	in.send(claimEvent{addr: addr, mac: mac, kind: kind})
}

// Restored tells the loop that the binder re-added addr after someone
// removed it, so that it is announced again.
func (in *Inbox) Restored(addr netip.Addr) { in.send(restoredEvent(addr)) }

// SetServiceVIPs hands the loop the Service VIPs this node may bind now
// (the services controller's claims, probed). It returns once the binder
// holds exactly that set — or, for a node that is unhealthy, none of it —
// so a caller that drops an address may hand it to another node as soon
// as SetServiceVIPs returns nil. It fails only when ctx ends or the loop
// has stopped, and then nothing is known about the binder.
func (in *Inbox) SetServiceVIPs(ctx context.Context, addrs []netip.Addr) error {
	done := make(chan struct{})
	return in.roundTrip(ctx, serviceEvent{addrs: slices.Clone(addrs), done: done}, done)
}

// ErrStopped is returned by Ping once the loop has ended.
var ErrStopped = errors.New("keeper loop stopped")

// Ping returns nil when the loop answers, ctx's error when it does not
// answer before ctx ends (it is stuck, or not started), and ErrStopped
// when it has ended. A liveness check.
func (in *Inbox) Ping(ctx context.Context) error {
	reply := make(chan struct{})
	return in.roundTrip(ctx, pingEvent(reply), reply)
}

// roundTrip sends ev to the loop and waits until it closes done.
func (in *Inbox) roundTrip(ctx context.Context, ev event, done <-chan struct{}) error {
	if err := in.box.SendContext(ctx, ev); err != nil {
		if errors.Is(err, mailbox.ErrClosed) {
			return ErrStopped
		}
		return err
	}
	select {
	case <-done:
		return nil
	case <-in.box.Done():
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}
