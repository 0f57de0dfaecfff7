package e2e

import (
	"fmt"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/e2e/lab"
)

// TestServicesPoolPlacement: a pool's nodeSelector puts its addresses on
// a node whose Node labels match; relabelling so that the announcer no
// longer matches moves the address to a node that does, never on two
// nodes at once. The lab has no kubelet: the test creates the Nodes.
func TestServicesPoolPlacement(t *testing.T) {
	if !lab.DaemonHasFlag(t, "--services-pool-objects") {
		t.Skip("vipkeeper run has no --services-pool-objects")
	}
	l := lab.Start(t, lab.Options{Services: true, NoControlPlaneVIP: true, PoolObjects: true})
	const seg = "vipkeeper.io/segment"
	set := func(labels map[string]string) {
		t.Helper()
		for node, v := range labels {
			if err := l.SetNodeLabels(node, map[string]string{seg: v}); err != nil {
				t.Fatal(err)
			}
		}
	}
	set(map[string]string{l.NodeName(0): "a", l.NodeName(1): "b", l.NodeName(2): "a"})
	if err := l.CreatePool(lab.Pool{Name: "seg-b", Addresses: []string{poolManual},
		Extra: map[string]any{"nodeSelector": map[string]any{"matchLabels": map[string]any{seg: "b"}}}}); err != nil {
		t.Fatal(err)
	}
	waitPool(t, l, "seg-b", "True", serviceUp)
	var addrs []netip.Addr
	for i := range 3 {
		name := fmt.Sprintf("placed-%d", i)
		l.CreateService(lab.ServiceSpec{Name: name})
		want := netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", 193+i)) // the lowest free, in order
		addrs = append(addrs, checkIngress(t, l.WaitIngress("", name, serviceUp), want))
	}
	owners := waitBoundOnce(t, l, addrs, serviceUp)
	for a, n := range owners {
		if n != l.NodeName(1) {
			t.Errorf("%s bound on %s; want %s, the only node labelled %s=b", a, n, l.NodeName(1), seg)
		}
	}

	// Move the label: n2 leaves segment b, n3 joins it.
	set(map[string]string{l.NodeName(1): "a", l.NodeName(2): "b"})
	tr := traceHolders(t, l, addrs[0], 15*time.Second, func(h []string) bool { return slices.Equal(h, []string{l.NodeName(2)}) })
	t.Logf("%s after relabelling: %s", addrs[0], tr)
	if !tr.reached || tr.overlaps > 0 {
		t.Errorf("%s: reached %v, samples on two nodes %d; want it on %s alone, never on two", addrs[0], tr.reached, tr.overlaps, l.NodeName(2))
	}
	owners = waitBoundOnce(t, l, addrs, serviceUp)
	for a, n := range owners {
		if n != l.NodeName(2) {
			t.Errorf("%s bound on %s after relabelling; want %s", a, n, l.NodeName(2))
		}
	}

	// preferredNodes: the address goes to the preferred node, fails over
	// to another when it stops, and stays there when it comes back.
	pref := l.NodeName(0)
	if err := l.CreatePool(lab.Pool{Name: "pref", Addresses: []string{poolPref},
		Extra: map[string]any{"preferredNodes": []any{pref}}}); err != nil {
		t.Fatal(err)
	}
	waitPool(t, l, "pref", "True", serviceUp)
	l.CreateService(lab.ServiceSpec{Name: "preferred", Pool: "pref"})
	pa := checkIngress(t, l.WaitIngress("", "preferred", serviceUp), netip.MustParseAddr("192.0.2.209"))
	if got := waitBoundOnce(t, l, []netip.Addr{pa}, serviceUp)[pa]; got != pref {
		t.Errorf("%s bound on %s; want the preferred node %s", pa, got, pref)
	}
	l.KillNode(0, syscall.SIGTERM)
	if code := l.WaitNodeExit(0, 30*time.Second); code != 0 {
		t.Fatalf("vipkeeper on %s exited %d on SIGTERM", pref, code)
	}
	other := waitBoundOnce(t, l, []netip.Addr{pa}, serviceUp)[pa]
	if other == pref {
		t.Fatalf("%s still on %s after it stopped", pa, pref)
	}
	l.StartNode(0)
	if !lab.WaitFor(serviceUp, func() bool { return len(l.GrepLog(0, 1, "node Lease held")) > 0 }) {
		t.Fatalf("%s did not take its node Lease again", pref)
	}
	watchUnchanged(t, l, []netip.Addr{pa}, map[netip.Addr]string{pa: other}, settle)
	t.Logf("%s: on %s (preferred), on %s after it stopped, still on %s after it came back", pa, pref, other, other)
	checkNotForbidden(t, l)
}
