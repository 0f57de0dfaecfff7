package health

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// linkState is one reading of the tracked link.
type linkState struct {
	up     bool
	detail string // why it is down, for the log: "no carrier", "gone", …
}

// linkWatcher reports the state of one interface.
type linkWatcher interface {
	// watch sends the link's current state on out promptly, then every
	// change (repeats are allowed), until ctx ends; then it returns.
	watch(ctx context.Context, name string, out chan<- linkState)
}

// resubscribeDelay paces retries when the netlink subscription fails or
// closes (it closes when the kernel drops events on a full socket buffer).
// Each retry first reads the link's current state, so a link that changed
// meanwhile is seen within this delay.
const resubscribeDelay = 500 * time.Millisecond

// linkUpdateBuffer holds a burst of link events (e.g. many veths created at
// once) while the loop is busy.
const linkUpdateBuffer = 64

// netlinkWatcher tracks a link with rtnetlink link events.
type netlinkWatcher struct {
	ns  netns.NsHandle // namespace to watch; netns.None() for the caller's
	log *slog.Logger
}

func (w *netlinkWatcher) watch(ctx context.Context, name string, out chan<- linkState) {
	for {
		w.watchOnce(ctx, name, out)
		t := time.NewTimer(resubscribeDelay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// watchOnce runs one subscription until it fails or ctx ends.
func (w *netlinkWatcher) watchOnce(ctx context.Context, name string, out chan<- linkState) {
	updates := make(chan netlink.LinkUpdate, linkUpdateBuffer)
	done := make(chan struct{})
	onErr := func(err error) {
		select {
		case <-done: // our own close of the socket
		default:
			w.log.Warn("link subscription error", "interface", name, "err", err)
		}
	}
	// Subscribe before reading, so no change falls between the two.
	err := netlink.LinkSubscribeWithOptions(updates, done, netlink.LinkSubscribeOptions{
		Namespace:     &w.ns,
		ErrorCallback: onErr,
		ListExisting:  true,
	})
	if err != nil {
		close(done)
		w.log.Error("subscribe to link events", "interface", name, "err", err)
		send(ctx, out, w.current(name).linkState) // poll until a subscription works
		return
	}
	defer func() {
		close(done)
		for range updates { // the reader closes it once the socket is closed
		}
	}()

	cur := w.current(name)
	if !send(ctx, out, cur.linkState) {
		return
	}
	index := cur.index
	for {
		select {
		case <-ctx.Done():
			return
		case u, ok := <-updates:
			if !ok {
				w.log.Warn("link subscription closed, resubscribing", "interface", name)
				return
			}
			st, ok := track(name, &index, u)
			if ok && !send(ctx, out, st) {
				return
			}
		}
	}
}

func send(ctx context.Context, out chan<- linkState, s linkState) bool {
	select {
	case out <- s:
		return true
	case <-ctx.Done():
		return false
	}
}

// reading is a linkState with the link's index (0 when unknown).
type reading struct {
	linkState
	index int
}

// current reads the link's state now.
func (w *netlinkWatcher) current(name string) reading {
	h, err := netlink.NewHandleAt(w.ns, unix.NETLINK_ROUTE)
	if err != nil {
		w.log.Error("open netlink handle", "interface", name, "err", err)
		return reading{linkState: linkState{detail: "cannot read link"}}
	}
	defer h.Close()
	l, err := h.LinkByName(name)
	var notFound netlink.LinkNotFoundError
	switch {
	case errors.As(err, &notFound):
		return reading{linkState: linkState{detail: "not found"}}
	case err != nil:
		w.log.Error("read link", "interface", name, "err", err)
		return reading{linkState: linkState{detail: "cannot read link"}}
	}
	return reading{linkState: stateOf(l.Attrs()), index: l.Attrs().Index}
}

// track turns a link event into the tracked link's state; ok is false for
// events about other links. *index follows the link, so a rename away from
// name counts as the link being gone.
func track(name string, index *int, u netlink.LinkUpdate) (st linkState, ok bool) {
	if u.Link == nil {
		return linkState{}, false
	}
	a := u.Link.Attrs()
	ours := a.Name == name
	known := *index != 0 && int(u.Index) == *index
	switch {
	case u.Header.Type == unix.RTM_DELLINK && (ours || known):
		*index = 0
		return linkState{detail: "gone"}, true
	case u.Header.Type != unix.RTM_NEWLINK:
		return linkState{}, false
	case ours:
		*index = a.Index
		return stateOf(a), true
	case known:
		*index = 0
		return linkState{detail: "renamed to " + a.Name}, true
	}
	return linkState{}, false
}

// stateOf judges a link from its flags and operational state (RFC 2863).
// Drivers without carrier reporting show "unknown": then the flags decide.
func stateOf(a *netlink.LinkAttrs) linkState {
	switch {
	case a.Flags&net.FlagUp == 0:
		return linkState{detail: "administratively down"}
	case a.RawFlags&unix.IFF_LOWER_UP == 0:
		return linkState{detail: "no carrier"}
	}
	switch a.OperState {
	case netlink.OperDown, netlink.OperLowerLayerDown, netlink.OperNotPresent, netlink.OperDormant, netlink.OperTesting:
		return linkState{detail: "oper state " + a.OperState.String()}
	}
	return linkState{up: true}
}
