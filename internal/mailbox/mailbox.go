// Package mailbox is the inbox of a loop that owns state: events from
// other goroutines queue in a bounded channel that only the loop reads.
// Senders block while it is full, so no event is ever dropped, and return
// at once after Close, so nothing blocks on a loop that has ended.
package mailbox

import (
	"context"
	"errors"
	"sync"
)

// ErrClosed is returned by SendContext once the mailbox is closed.
var ErrClosed = errors.New("mailbox closed")

// Box is one loop's inbox of events of type E.
type Box[E any] struct {
	c    chan E
	done chan struct{}
	once sync.Once
}

// New returns an open Box that queues up to size events.
func New[E any](size int) *Box[E] {
	return &Box[E]{c: make(chan E, size), done: make(chan struct{})}
}

// Send queues e, blocking while the box is full; it returns without
// queueing once the box is closed.
func (b *Box[E]) Send(e E) {
	select {
	case b.c <- e:
	case <-b.done:
	}
}

// SendContext is Send that gives up when ctx ends (ctx's error) or the box
// is closed (ErrClosed).
func (b *Box[E]) SendContext(ctx context.Context, e E) error {
	select {
	case b.c <- e:
		return nil
	case <-b.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// C is the channel the loop reads.
func (b *Box[E]) C() <-chan E { return b.c }

// Done is closed when the box is closed.
func (b *Box[E]) Done() <-chan struct{} { return b.done }

// Close ends the box: senders return at once from now on. It is safe to
// call more than once.
func (b *Box[E]) Close() { b.once.Do(func() { close(b.done) }) }
