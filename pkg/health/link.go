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

	"github.com/vipkeeper/vipkeeper/internal/nlsub"
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
	log := w.log.With("interface", name)
	events := nlsub.Config[netlink.LinkUpdate]{
		Subscribe: func(ch chan<- netlink.LinkUpdate, done <-chan struct{}, onErr func(error)) error {
			return netlink.LinkSubscribeWithOptions(ch, done, netlink.LinkSubscribeOptions{
				Namespace:     &w.ns,
				ErrorCallback: onErr,
				ListExisting:  true,
			})
		},
		Events:     "link",
		Buffer:     linkUpdateBuffer,
		RetryDelay: resubscribeDelay,
		Log:        log,
	}
	index := 0 // the tracked link's, 0 when unknown
	// After every subscription attempt (and, while subscribing fails, every
	// resubscribeDelay) read the link itself: events may have been missed.
	sync := func() {
		cur := w.current(name)
		index = cur.index
		send(ctx, out, cur.linkState)
	}
	nlsub.Run(ctx, events, sync, func(u netlink.LinkUpdate) {
		if st, ok := track(name, &index, u); ok {
			send(ctx, out, st)
		}
	})
}

// send sends s on out unless ctx ends first; it reports whether it sent.
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

// WatchLink reports the state of the link called name — up, or why not —
// once it is known and on every change, until ctx ends; it returns once it
// has stopped. A missing link is down ("not found"). It reads the link
// the way the link check does, in the caller's network namespace. report
// is called from WatchLink's goroutine.
func WatchLink(ctx context.Context, name string, report func(up bool, why string), log *slog.Logger) {
	w := &netlinkWatcher{ns: netns.None(), log: log}
	out := make(chan linkState)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.watch(ctx, name, out)
	}()
	var last *linkState
	for {
		select {
		case <-ctx.Done():
			<-done
			return
		case st := <-out:
			if last != nil && *last == st {
				continue // a repeat
			}
			last = &st
			report(st.up, st.detail)
		}
	}
}
