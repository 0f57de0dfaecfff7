package vip

import "github.com/vishvananda/netlink"

// subscription is one netlink address subscription.
type subscription struct {
	ch   chan netlink.AddrUpdate
	done chan struct{}
}

// subscribe subscribes to address events; it logs and returns nil on failure.
func (b *Binder) subscribe() *subscription {
	s := &subscription{ch: make(chan netlink.AddrUpdate, updateBuffer), done: make(chan struct{})}
	onErr := func(err error) {
		select {
		case <-s.done: // our own stop closed the socket
		default:
			b.log.Warn("address subscription error", "err", err)
		}
	}
	if err := b.nl.AddrSubscribe(s.ch, s.done, onErr); err != nil {
		close(s.done)
		b.log.Error("subscribe to address events", "err", err)
		return nil
	}
	return s
}

// updates returns the event channel, or nil (never ready) without a
// subscription.
func (s *subscription) updates() <-chan netlink.AddrUpdate {
	if s == nil {
		return nil
	}
	return s.ch
}

// stop ends the subscription and waits until its reader has closed ch.
func (s *subscription) stop() {
	if s == nil {
		return
	}
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	for range s.ch {
	}
}
