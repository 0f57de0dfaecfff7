// Package ethertest is a fake link for the unit tests of the packages that
// look their interface up through ether.Link: it stands in for
// net.InterfaceByName. Import it only from _test.go files.
package ethertest

import (
	"net"
	"slices"
	"sync"
)

// Link is one fake interface. Its methods are safe for concurrent use, so
// a test can change the link while the code under test looks it up.
type Link struct {
	mu  sync.Mutex // guards the fields below
	ifi net.Interface
	err error
}

// NewLink returns a Link that looks like ifi.
func NewLink(ifi net.Interface) *Link {
	return &Link{ifi: ifi}
}

// Lookup has the signature of net.InterfaceByName (ether.Lookup). It
// returns a copy of the link whatever the name, or the error set by Fail.
func (l *Link) Lookup(string) (*net.Interface, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return nil, l.err
	}
	ifi := l.ifi
	ifi.HardwareAddr = slices.Clone(l.ifi.HardwareAddr)
	return &ifi, nil
}

// Update changes the link, as the kernel would: a new Index is the link
// deleted and created again, a new HardwareAddr a changed MAC.
func (l *Link) Update(fn func(ifi *net.Interface)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fn(&l.ifi)
}

// Fail makes every Lookup fail with err, as for a deleted link; nil
// undoes it.
func (l *Link) Fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = err
}
