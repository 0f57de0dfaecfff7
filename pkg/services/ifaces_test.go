package services

import (
	"context"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fakeLinks records what the controller tells pkg/links.
type fakeLinks struct {
	mu     sync.Mutex
	used   []string
	routes map[netip.Addr]string
}

func (f *fakeLinks) Use(ifaces []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.used = slices.Clone(ifaces)
}

func (f *fakeLinks) Route(routes map[netip.Addr]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes = maps.Clone(routes)
}

func (f *fakeLinks) route(a string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.routes[netip.MustParseAddr(a)]
}

// setIfaces gives the flag pools interfaces, as reloadPools does for
// pool objects.
type setIfaces map[string]string

func (e setIfaces) apply(c *Controller) { c.setPoolIfaces(e) }

// TestLinkNodes: which nodes may announce an address whose pool names an
// interface, for every order of the node lists.
func TestLinkNodes(t *testing.T) {
	downOn := map[string][]string{"n1": {"eth1"}, "n3": {"eth2"}, "n4": {"eth1", "eth2"}}
	down := func(n, i string) bool { return slices.Contains(downOn[n], i) }
	all := []string{"n1", "n2", "n3", "n4"}
	for _, tc := range []struct {
		name       string
		iface      string
		restricted bool
		eligible   []string
		want       []string
	}{
		{"unrestricted: every live node with the link up", "eth1", false, nil, []string{"n2", "n3"}},
		{"another interface, other nodes", "eth2", false, nil, []string{"n1", "n2"}},
		{"restricted: of those, the ones with the link up", "eth1", true, []string{"n1", "n3"}, []string{"n3"}},
		{"restricted, none up", "eth1", true, []string{"n1", "n4"}, nil},
		{"an interface no node reports down", "eth3", false, nil, all},
	} {
		for _, rev := range []bool{false, true} {
			el, cand := slices.Clone(tc.eligible), slices.Clone(all)
			if rev {
				slices.Reverse(el)
				slices.Reverse(cand)
			}
			got := linkNodes(tc.iface, down, tc.restricted, el, cand)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s (reversed %v) (-want +got):\n%s", tc.name, rev, diff)
			}
		}
	}
}

func TestParseLinksDown(t *testing.T) {
	for in, want := range map[string][]string{
		"":                nil,
		"eth1":            {"eth1"},
		"eth1,bond0.100":  {"eth1", "bond0.100"},
		" eth1 , ,eth2, ": {"eth1", "eth2"},
	} {
		if diff := cmp.Diff(want, parseLinksDown(in)); diff != "" {
			t.Errorf("%q (-want +got):\n%s", in, diff)
		}
	}
}

// FuzzParseLinksDown: whatever a peer's Lease says, the names are never
// empty and never hold the separator, and a published list reads back
// as itself.
func FuzzParseLinksDown(f *testing.F) {
	for _, s := range []string{"", "eth1", "eth1,eth2", ",,", " a ,b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := parseLinksDown(s)
		for _, n := range got {
			if n == "" || strings.Contains(n, ",") || strings.TrimSpace(n) != n {
				t.Fatalf("%q: name %q", s, n)
			}
		}
		if again := parseLinksDown(strings.Join(got, ",")); !slices.Equal(again, got) {
			t.Fatalf("%q: %v, read back %v", s, got, again)
		}
	})
}

// TestPoolInterfaceFollowsLinks: a pool on eth1 is announced only by a
// node whose eth1 is up by its Lease; when the links change, the address
// moves through its claim, and with no link up nobody announces it.
func TestPoolInterfaceFollowsLinks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newClient()
		n1 := startNode(t, c, "n1", true)
		n2 := startNode(t, c, "n2", true)
		link := func(n *node, up bool) { n.ctrl.LinkState("eth1", up) }
		for _, n := range []*node{n1, n2} {
			n.ctrl.send(setIfaces{"lab": "eth1"})
		}
		link(n1, true)
		link(n2, false)
		if _, err := c.CoreV1().Services("default").Create(context.Background(), lbService("web", withClass(nil)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		settle(soon)
		const a = "203.0.113.1"
		if !bound(n1, a) || bound(n2, a) {
			t.Fatalf("bound on n1 %v, on n2 %v; want n1 only (n2's eth1 is down)", bound(n1, a), bound(n2, a))
		}
		if got := n1.links.route(a); got != "eth1" {
			t.Errorf("route of %s: %q; want eth1", a, got)
		}
		if diff := cmp.Diff([]string{"eth1"}, n1.links.used); diff != "" {
			t.Errorf("interfaces used (-want +got):\n%s", diff)
		}
		l, err := c.CoordinationV1().Leases(ns).Get(context.Background(), NodeLeasePrefix+"n2", metav1.GetOptions{})
		if err != nil || l.Annotations[AnnotationLinksDown] != "eth1" {
			t.Errorf("n2's Lease annotations %v (%v); want %s: eth1", l.Annotations, err, AnnotationLinksDown)
		}

		link(n1, false)
		link(n2, true)
		settle(expiry)
		if bound(n1, a) || !bound(n2, a) {
			t.Errorf("after the links swapped: bound on n1 %v, on n2 %v; want n2 only", bound(n1, a), bound(n2, a))
		}
		if h, _ := claimHolder(c, a); h != "n2" {
			t.Errorf("claim names %q; want n2", h)
		}

		link(n2, false)
		settle(expiry)
		if bound(n1, a) || bound(n2, a) {
			t.Errorf("no link up: bound on n1 %v, on n2 %v; want nowhere", bound(n1, a), bound(n2, a))
		}
		n1.stop()
		n2.stop()
	})
}
