package e2e

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/vipkeeper/vipkeeper/e2e/lab"
)

// crdFile is the AddressPool CRD as `vipkeeper manifest crds` prints it.
const crdFile = lab.CRDFile

// TestAddressPoolSchema applies the AddressPool CRD to the lab's real
// kube-apiserver (which also proves its CEL rules within the cost budget:
// the API server refuses a CRD whose estimate exceeds it) and tries good
// and bad objects against its schema and CEL rules. What the schema lets
// through, the daemon checks again (pkg/services/pools, TestCompile).
func TestAddressPoolSchema(t *testing.T) {
	l := lab.Start(t, lab.Options{Nodes: 1, NoDaemons: true})
	l.InstallCRDs(crdFile)
	f := false
	tests := []struct {
		name string
		pool lab.Pool
		want string // "" accepted, else a part of the refusal
	}{
		{"CIDR and range, both families", lab.Pool{Name: "good", Addresses: []string{"203.0.113.128/25", "2001:db8:1::10-2001:db8:1::20"}}, ""},
		{"manual, namespaces", lab.Pool{Name: "manual", Addresses: []string{"203.0.113.200-203.0.113.201"}, Namespaces: []string{"team-a"}, AutoAssign: &f}, ""},
		{"IPv6 CIDR", lab.Pool{Name: "six", Addresses: []string{"2001:db8:1::/64"}}, ""},
		{"host bits set", lab.Pool{Name: "hostbits", Addresses: []string{"203.0.113.130/25"}}, "each address item"},
		{"not an address", lab.Pool{Name: "word", Addresses: []string{"blue"}}, "each address item"},
		{"mixed-family range", lab.Pool{Name: "mixed", Addresses: []string{"203.0.113.130-2001:db8:1::1"}}, "each address item"},
		{"range with a bad end", lab.Pool{Name: "badend", Addresses: []string{"203.0.113.130-203.0.113.300"}}, "each address item"},
		{"zoned address", lab.Pool{Name: "zoned", Addresses: []string{"2001:db8:1::1%eth0-2001:db8:1::2"}}, "each address item"},
		{"no addresses", lab.Pool{Name: "empty", Addresses: []string{}}, "spec.addresses"},
		{"duplicate item", lab.Pool{Name: "dup", Addresses: []string{"203.0.113.128/25", "203.0.113.128/25"}}, "Duplicate value"},
		{"name with a dot", lab.Pool{Name: "a.b", Addresses: []string{"203.0.113.128/25"}}, "DNS-1123 label"},
		{"bad namespace", lab.Pool{Name: "badns", Addresses: []string{"203.0.113.128/25"}, Namespaces: []string{"Team_A"}}, "spec.namespaces"},
		{"unknown field", lab.Pool{Name: "unknown", Addresses: []string{"203.0.113.128/25"}, Extra: map[string]any{"color": "blue"}}, "unknown field"},
		{"interface too long", lab.Pool{Name: "longif", Addresses: []string{"203.0.113.128/25"}, Extra: map[string]any{"interface": "a-very-long-interface"}}, "spec.interface"},
		{"interface alias with a colon", lab.Pool{Name: "aliasif", Addresses: []string{"203.0.113.128/25"}, Extra: map[string]any{"interface": "eth0:1"}}, "spec.interface"},
		{"interface with a slash", lab.Pool{Name: "slashif", Addresses: []string{"203.0.113.128/25"}, Extra: map[string]any{"interface": "a/b"}}, "spec.interface"},
		{"placement is schema-valid", lab.Pool{Name: "placed", Addresses: []string{"203.0.113.128/25"},
			Extra: map[string]any{"interface": "eth1", "preferredNodes": []any{"node-1"},
				"nodeSelector": map[string]any{"matchLabels": map[string]any{"vipkeeper.io/segment": "b"}}}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := l.CreatePool(tc.pool)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Errorf("accepted; want a refusal naming %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("refused with %v; want it to name %q", err, tc.want)
			default:
				t.Logf("%v", err)
			}
		})
	}
}

// Addresses of the pool-object scenarios: parts of the nodes' link that
// no other lab address uses (lab.ServicePool4 is .128/26; nodes, client,
// API server and VIP sit below .128).
var (
	poolA       = "192.0.2.128/26" // .129–.190
	poolAShrunk = "192.0.2.144/28" // .145–.158: no longer holds .129
	poolOver    = "192.0.2.160/27" // inside poolA: refused
	poolManual  = "192.0.2.192/28" // .193–.206, autoAssign false
	poolPref    = "192.0.2.208/28" // .209–.222
)

// waitPool waits until the allocator wrote the Valid condition want on
// pool name, and returns the status.
func waitPool(t *testing.T, l *lab.Lab, name, want string, timeout time.Duration) lab.PoolStatus {
	t.Helper()
	var st lab.PoolStatus
	var err error
	if !lab.WaitFor(timeout, func() bool {
		st, err = l.GetPoolStatus(name)
		return err == nil && st.Valid == want
	}) {
		t.Fatalf("pool %s: status %+v (%v); want Valid %s", name, st, err, want)
	}
	return st
}

// waitUnbound waits until addr is bound on no node.
func waitUnbound(t *testing.T, l *lab.Lab, addr netip.Addr, timeout time.Duration) {
	t.Helper()
	var held []string
	if !lab.WaitFor(timeout, func() bool {
		h, err := l.HoldersOf(addr)
		held = h
		return err == nil && len(h) == 0
	}) {
		t.Fatalf("%s still bound on %v after %v", addr, held, timeout)
	}
}

// waitIngressNot waits until the Service's ingress differs from old, and
// returns it.
func waitIngressNot(t *testing.T, l *lab.Lab, name string, old []netip.Addr, timeout time.Duration) []netip.Addr {
	t.Helper()
	var got []netip.Addr
	if !lab.WaitFor(timeout, func() bool {
		svc, err := l.GetService("", name)
		if err != nil {
			return false
		}
		got = lab.IngressAddrs(svc)
		return !slices.Equal(got, old)
	}) {
		t.Fatalf("Service %s: ingress still %v after %v", name, old, timeout)
	}
	return got
}

// TestServicesPoolObjects: pools as AddressPool objects, changed live.
// A pool created after the daemons started serves a Service at once; an
// overlapping pool is reported not valid in its status; a manual pool
// serves only the Service that names it; shrinking a pool withdraws the
// address it no longer holds with a Warning Event and re-allocates the
// Service; deleting a pool withdraws its addresses and clears the status.
func TestServicesPoolObjects(t *testing.T) {
	if !lab.DaemonHasFlag(t, "--services-pool-objects") {
		t.Skip("vipkeeper run has no --services-pool-objects")
	}
	l := lab.Start(t, lab.Options{Services: true, NoControlPlaneVIP: true, PoolObjects: true, Audit: true})

	// No pool yet: the Service waits with a Warning.
	l.CreateService(lab.ServiceSpec{Name: "web"})
	waitEvent(t, l, "web", lab.ReasonAllocationFailed, serviceUp)

	if err := l.CreatePool(lab.Pool{Name: "a", Addresses: []string{poolA}}); err != nil {
		t.Fatal(err)
	}
	web := checkIngress(t, l.WaitIngress("", "web", serviceUp), netip.MustParseAddr("192.0.2.129"))
	owners := waitBoundOnce(t, l, []netip.Addr{web}, serviceUp)
	if who := l.WaitServed(web, 10*time.Second); who != owners[web] {
		t.Errorf("%s bound on %s, served by %q", web, owners[web], who)
	}
	st := waitPool(t, l, "a", "True", serviceUp)
	t.Logf("pool a: %+v", st)
	if len(st.Usage) != 1 || fmt.Sprint(st.Usage[0]["allocated"]) != "1" || st.Usage[0]["total"] != "62" {
		// Usage-only changes are written at most every 10 s.
		if !lab.WaitFor(15*time.Second, func() bool {
			st, _ = l.GetPoolStatus("a")
			return len(st.Usage) == 1 && fmt.Sprint(st.Usage[0]["allocated"]) == "1" && st.Usage[0]["total"] == "62"
		}) {
			t.Errorf("pool a usage %v; want IPv4 1 of 62", st.Usage)
		}
	}

	// An overlapping pool: not valid, and it changes nothing.
	if err := l.CreatePool(lab.Pool{Name: "over", Addresses: []string{poolOver}}); err != nil {
		t.Fatal(err)
	}
	over := waitPool(t, l, "over", "False", 15*time.Second)
	if over.Reason != "Overlaps" || !strings.Contains(over.Message, `pool "a"`) {
		t.Errorf("pool over: %+v; want reason Overlaps naming pool a", over)
	}

	// A manual pool: only a Service that names it gets its addresses.
	f := false
	if err := l.CreatePool(lab.Pool{Name: "manual", Addresses: []string{poolManual}, AutoAssign: &f}); err != nil {
		t.Fatal(err)
	}
	l.CreateService(lab.ServiceSpec{Name: "pick", Pool: "manual"})
	l.CreateService(lab.ServiceSpec{Name: "plain"})
	pick := checkIngress(t, l.WaitIngress("", "pick", serviceUp), netip.MustParseAddr("192.0.2.193"))
	plain := checkIngress(t, l.WaitIngress("", "plain", serviceUp), netip.MustParseAddr("192.0.2.130"))
	waitBoundOnce(t, l, []netip.Addr{pick, plain}, serviceUp)

	// Shrink a: web's and plain's addresses leave every pool. Each gets a
	// Warning and a new address; the old ones are unbound everywhere.
	if err := l.SetPoolAddresses("a", []string{poolAShrunk}); err != nil {
		t.Fatal(err)
	}
	ev := waitEvent(t, l, "web", "AddressWithdrawn", 15*time.Second)
	if ev.Type != corev1.EventTypeWarning || !strings.Contains(ev.Message, web.String()) {
		t.Errorf("web: %s %s: %q; want a Warning naming %s", ev.Type, ev.Reason, ev.Message, web)
	}
	moved := waitIngressNot(t, l, "web", []netip.Addr{web}, 15*time.Second)
	t.Logf("web moved %s → %v: %s", web, moved, ev.Message)
	if len(moved) != 1 || !netip.MustParsePrefix(poolAShrunk).Contains(moved[0]) {
		t.Errorf("web after the shrink: %v; want one address of %s", moved, poolAShrunk)
	}
	waitUnbound(t, l, web, unbindBound)
	waitBoundOnce(t, l, moved, serviceUp)

	// Delete manual: pick names it, so it gets no other address; its
	// status is cleared and its address unbound.
	if err := l.DeletePool("manual"); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, l, "pick", "AddressWithdrawn", 15*time.Second)
	if got := waitIngressNot(t, l, "pick", []netip.Addr{pick}, 15*time.Second); len(got) != 0 {
		t.Errorf("pick after its pool was deleted: ingress %v; want none", got)
	}
	waitUnbound(t, l, pick, unbindBound)
	checkNotForbidden(t, l)
	checkPoolRequests(t, l)
}

// checkPoolRequests: what the daemons sent about AddressPools and Nodes is
// exactly lab.PoolRules (pkg/manifest.PoolRules) — list, watch, update of
// the status; list and watch Nodes — every verb of it used, and nothing
// refused.
func checkPoolRequests(t *testing.T, l *lab.Lab) {
	t.Helper()
	used := map[string]int{}
	for _, e := range l.AuditEvents(0) {
		if e.APIGroup != "vipkeeper.io" && e.Resource != "nodes" || !strings.HasPrefix(e.User, "vipkeeper:") {
			continue
		}
		used[e.Verb+" "+e.Resource]++
		if e.Code >= 400 && e.Code != 409 { // a conflict is a compare-and-swap losing
			t.Errorf("refused: %s %s %s: %d", e.Verb, e.Resource, e.Name, e.Code)
		}
	}
	t.Logf("AddressPool and Node requests by the daemons: %v", used)
	granted := map[string]bool{}
	for _, r := range lab.PoolRules() {
		for _, res := range r.Resources {
			for _, v := range r.Verbs {
				granted[v+" "+res] = true
			}
		}
	}
	for k := range used {
		if !granted[k] {
			t.Errorf("%s was sent but is not in the pool RBAC", k)
		}
	}
	for k := range granted {
		if used[k] == 0 {
			t.Errorf("%s is granted but was never sent: least privilege says drop it", k)
		}
	}
}

// TestServicesPoolMigration moves a running install from flag pools to
// AddressPool objects holding the same addresses, one node at a time (a
// rolling update of the DaemonSet): every Service keeps its address, and
// no address is ever seen on two nodes. Old and new daemons run side by
// side meanwhile; they agree because the objects hold what the flags did.
func TestServicesPoolMigration(t *testing.T) {
	if !lab.DaemonHasFlag(t, "--services-pool-objects") {
		t.Skip("vipkeeper run has no --services-pool-objects")
	}
	l := startServicesLab(t)
	names := []string{"m4", "m6", "dual"}
	l.CreateService(lab.ServiceSpec{Name: "m4"})
	l.CreateService(lab.ServiceSpec{Name: "m6", IPv6: true})
	l.CreateService(lab.ServiceSpec{Name: "dual", DualStack: true})
	before := map[string][]netip.Addr{}
	var all []netip.Addr
	for _, n := range names {
		before[n] = lab.IngressAddrs(l.WaitIngress("", n, serviceUp))
		all = append(all, before[n]...)
	}
	waitBoundOnce(t, l, all, serviceUp)
	t.Logf("with flag pools: %v", before)

	// The objects first, with the flag pools' names and addresses.
	l.UsePoolObjects()
	for _, p := range []lab.Pool{
		{Name: "lab4", Addresses: []string{lab.ServicePool4.String()}},
		{Name: "lab6", Addresses: []string{lab.ServicePool6.String()}},
	} {
		if err := l.CreatePool(p); err != nil {
			t.Fatal(err)
		}
	}
	for i := range l.Nodes() {
		l.KillNode(i, syscall.SIGTERM)
		if code := l.WaitNodeExit(i, 30*time.Second); code != 0 {
			t.Fatalf("vipkeeper on %s exited %d on SIGTERM", l.NodeName(i), code)
		}
		l.StartNode(i) // now with --services-pool-objects
		owners := waitBoundOnce(t, l, all, serviceUp)
		t.Logf("%s restarted with pool objects: owners %v", l.NodeName(i), owners)
	}
	for _, n := range names {
		svc, err := l.GetService("", n)
		if err != nil {
			t.Fatal(err)
		}
		if got := lab.IngressAddrs(svc); !slices.Equal(got, before[n]) {
			t.Errorf("Service %s: ingress %v after the move; want %v (unchanged)", n, got, before[n])
		}
		// A rolling restart moves announcers (Normal AnnouncerChanged
		// Events); what the move must never do is withdraw or change an
		// address, which would be a Warning.
		if evs, err := l.ServiceEvents("", n); err == nil {
			for _, ev := range evs {
				if ev.Type == "Normal" {
					t.Logf("Service %s: Event %s %s: %s", n, ev.Type, ev.Reason, ev.Message)
					continue
				}
				t.Errorf("Service %s: Event %s %s: %s; want no Warning", n, ev.Type, ev.Reason, ev.Message)
			}
		}
	}
	for _, p := range []string{"lab4", "lab6"} {
		st := waitPool(t, l, p, "True", serviceUp)
		t.Logf("pool %s: %+v", p, st)
	}
	for i := range l.Nodes() {
		if !lab.WaitFor(serviceUp, func() bool { return len(l.GrepLog(i, 1, "address pools changed")) > 0 }) {
			t.Errorf("%s: no \"address pools changed\" in its log: did it read the objects?", l.NodeName(i))
		}
	}
	checkNotForbidden(t, l)
}

// TestServicesWhoAnnounces: after the node announcing an address crashes,
// the Service's AnnouncerChanged Event and `vipkeeper status --services`
// both name the survivor that took it over, and neither names the dead
// node as its announcer.
func TestServicesWhoAnnounces(t *testing.T) {
	l := startServicesLab(t)
	names := []string{"who-0", "who-1", "who-2", "who-3"}
	var addrs []netip.Addr
	svcOf := map[netip.Addr]string{}
	for _, n := range names {
		l.CreateService(lab.ServiceSpec{Name: n})
	}
	for _, n := range names {
		a := checkIngress(t, l.WaitIngress("", n, serviceUp), netip.Addr{})
		addrs = append(addrs, a)
		svcOf[a] = n
	}
	before := waitBoundOnce(t, l, addrs, serviceUp)
	addr := addrs[0]
	victim := before[addr]
	vi := l.NodeIndex(victim)
	t.Logf("owners %v; killing %s, which announces %s (%s)", before, victim, addr, svcOf[addr])
	l.KillNode(vi, syscall.SIGKILL)
	l.WaitNodeExit(vi, 5*time.Second)
	l.LinkDown(vi)

	var survivor string
	if !lab.WaitFor(crashBound+10*time.Second, func() bool {
		claims, err := l.Leases(lab.RoleClaim)
		survivor = claims[lab.ClaimLeaseName(addr)]
		return err == nil && survivor != "" && survivor != victim
	}) {
		t.Fatalf("the claim of %s still names %q", addr, survivor)
	}
	ev := waitEvent(t, l, svcOf[addr], "AnnouncerChanged", 30*time.Second)
	t.Logf("%s: %s %s from %s: %s", svcOf[addr], ev.Type, ev.Reason, ev.Source.Host, ev.Message)
	if ev.Type != corev1.EventTypeNormal || ev.Source.Host != survivor ||
		!strings.Contains(ev.Message, "announced by node "+survivor) || !strings.Contains(ev.Message, "taken over from "+victim) {
		t.Errorf("Event %s from %s: %q; want Normal from %s, taken over from %s", ev.Type, ev.Source.Host, ev.Message, survivor, victim)
	}

	out, err := l.VipkeeperCLI("status", "--services", "--services-namespace", l.ServicesNamespace())
	if err != nil {
		t.Fatalf("vipkeeper status --services: %v\n%s", err, out)
	}
	t.Logf("vipkeeper status --services:\n%s", out)
	line := ""
	for _, ln := range strings.Split(out, "\n") {
		if f := strings.Fields(ln); len(f) > 0 && f[0] == addr.String() {
			line = ln
		}
	}
	f := strings.Fields(line)
	if len(f) < 5 || f[1] != survivor || f[2] != "lab4" || f[len(f)-1] != "default/"+svcOf[addr] {
		t.Errorf("status line of %s: %q; want node %s, pool lab4, Service default/%s", addr, line, survivor, svcOf[addr])
	}
}
