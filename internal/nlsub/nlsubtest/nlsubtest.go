// Package nlsubtest is a fake netlink subscription for the unit tests of
// the packages that subscribe through nlsub: the test plays the netlink
// reader, sending events and breaking subscriptions. Import it only from
// _test.go files.
package nlsubtest

import (
	"errors"
	"sync"
)

// ErrInjected is what a Subscribe made to fail by FailNext returns.
var ErrInjected = errors.New("injected subscribe error")

// Fake hands out subscriptions. Its zero value is ready to use; its methods
// are safe for concurrent use.
type Fake[T any] struct {
	mu    sync.Mutex // guards the fields below
	fails int        // Subscribe calls still to fail
	subs  []*Sub[T]
}

// Sub is one subscription handed out by a Fake.
type Sub[T any] struct {
	ch    chan<- T
	done  <-chan struct{}
	onErr func(error)

	mu     sync.Mutex // guards closed and sending on ch
	closed bool
}

// FailNext makes the next n calls of Subscribe fail with ErrInjected.
func (f *Fake[T]) FailNext(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fails = n
}

// Subscribe has the shape of nlsub.Subscribe. Like the netlink reader, the
// subscription closes ch once done is closed.
func (f *Fake[T]) Subscribe(ch chan<- T, done <-chan struct{}, onErr func(error)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fails > 0 {
		f.fails--
		return ErrInjected
	}
	s := &Sub[T]{ch: ch, done: done, onErr: onErr}
	f.subs = append(f.subs, s)
	go func() {
		<-done
		s.Close()
	}()
	return nil
}

// Count returns how many subscriptions were opened.
func (f *Fake[T]) Count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// Last returns the newest subscription, or nil.
func (f *Fake[T]) Last() *Sub[T] {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.subs) == 0 {
		return nil
	}
	return f.subs[len(f.subs)-1]
}

// Send sends v on the newest subscription, if there is one.
func (f *Fake[T]) Send(v T) {
	if s := f.Last(); s != nil {
		s.Send(v)
	}
}

// Send sends v, as the reader does with an event, unless the subscription
// is closed or closing. It blocks until the subscriber takes v.
func (s *Sub[T]) Send(v T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	select {
	case s.ch <- v:
	case <-s.done:
	}
}

// Fail reports err to the subscriber's error callback, as the reader does
// with a socket error.
func (s *Sub[T]) Fail(err error) {
	s.onErr(err)
}

// Close closes the channel, as the reader does when its socket fails (the
// kernel's ENOBUFS on overflow) or is closed.
func (s *Sub[T]) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
}

// Closed reports whether Close ran.
func (s *Sub[T]) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
