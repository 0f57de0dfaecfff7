package witness

import "time"

// maxPeers bounds the peers tracked: a group is the control-plane nodes,
// or every node of a services-mode cluster; beyond this many names (a
// misconfiguration, or frames forged on the link) the least recently
// heard is forgotten. Any one peer is evidence enough; the count is for
// metrics.
const maxPeers = 512

// peers is the last time each peer was heard. Not safe for concurrent use.
type peers map[string]time.Time

// heard records node heard at at, forgetting the least recently heard
// peer when the table is full.
func (p peers) heard(node string, at time.Time) {
	if _, ok := p[node]; !ok && len(p) >= maxPeers {
		var oldest string
		for n, t := range p {
			if oldest == "" || t.Before(p[oldest]) {
				oldest = n
			}
		}
		delete(p, oldest)
	}
	if at.After(p[node]) {
		p[node] = at
	}
}

// live counts the peers heard less than window before now, and forgets
// the others.
func (p peers) live(now time.Time, window time.Duration) int {
	n := 0
	for node, t := range p {
		if now.Before(t.Add(window)) {
			n++
		} else {
			delete(p, node)
		}
	}
	return n
}
