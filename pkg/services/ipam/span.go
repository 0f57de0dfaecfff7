package ipam

import (
	"container/heap"
	"math/big"
	"net/netip"
)

// span is the allocation state of one Range. It never lists the range:
// addresses from hwm on have never been handed out since the span was
// built (unless a request named them, which the in-use map records), and
// addresses below hwm that are free again sit in the heap. Both are
// visited in address order, so lowest returns the lowest free address.
//
// Invariant: every free address of the range is ≥ hwm (while !done) or in
// free. The heap may also hold stale entries — addresses taken again by
// name — which lowest drops when it meets them.
type span struct {
	r      Range
	hwm    netip.Addr
	done   bool                // hwm has passed r.Last
	free   addrHeap            // free addresses below hwm, plus stale entries
	queued map[netip.Addr]bool // addresses in free, so that none is pushed twice
	used   int                 // addresses of the range in use
	excl   []Exclusion         // never handed out; in address order
}

func newSpan(r Range, excl []Exclusion) *span {
	return &span{r: r, hwm: r.First, queued: map[netip.Addr]bool{}, excl: exclusionsFor(r, excl)}
}

// excluded returns the exclusion that holds a, if any.
func (s *span) excluded(a netip.Addr) (Exclusion, bool) {
	for _, x := range s.excl {
		if x.Prefix.Contains(a) {
			return x, true
		}
	}
	return Exclusion{}, false
}

// lowest returns the lowest free address. Each call does amortised O(log n)
// work: a stale heap entry is dropped once, and hwm only moves forward
// over addresses in use.
func (s *span) lowest(inUse func(netip.Addr) bool) (netip.Addr, bool) {
	for len(s.free) > 0 {
		a := s.free[0]
		if !inUse(a) {
			return a, true
		}
		heap.Pop(&s.free)
		delete(s.queued, a)
	}
	for !s.done {
		last := s.hwm // the last address to step over
		if x, ok := s.excluded(s.hwm); ok {
			last = lastOf(x.Prefix) // a whole block at once, even a /96
		} else if !inUse(s.hwm) {
			break
		}
		if !last.Less(s.r.Last) {
			s.done = true
		} else {
			s.hwm = last.Next()
		}
	}
	if s.done {
		return netip.Addr{}, false
	}
	return s.hwm, true
}

// claimed records that an address of the range is now in use.
func (s *span) claimed() { s.used++ }

// released records that a, in use until now, is free.
func (s *span) released(a netip.Addr) {
	s.used--
	if _, ok := s.excluded(a); ok {
		return // held only because a Service had it already (Restore)
	}
	if (s.done || a.Less(s.hwm)) && !s.queued[a] {
		heap.Push(&s.free, a)
		s.queued[a] = true
	}
}

// size is the number of usable addresses, as a float64 (exact up to 2^53,
// which is plenty for a gauge).
func (s *span) size() float64 {
	first := new(big.Int).SetBytes(s.r.First.AsSlice())
	last := new(big.Int).SetBytes(s.r.Last.AsSlice())
	n := last.Sub(last, first)
	f, _ := new(big.Float).SetInt(n.Add(n, big.NewInt(1))).Float64()
	return f
}

// addrHeap is a min-heap of addresses (container/heap).
type addrHeap []netip.Addr

func (h addrHeap) Len() int           { return len(h) }
func (h addrHeap) Less(i, j int) bool { return h[i].Less(h[j]) }
func (h addrHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *addrHeap) Push(x any)        { *h = append(*h, x.(netip.Addr)) }
func (h *addrHeap) Pop() any {
	old := *h
	a := old[len(old)-1]
	*h = old[:len(old)-1]
	return a
}
