package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipkeeper/vipkeeper/e2e/lab"
)

// guardBlocked is what a daemon logs while nsguard holds its Services back.
const guardBlocked = "node Leases of an install that serves Services from"

// TestServicesNamespaceMove moves a running services install from the
// lease namespace to a namespace of its own the way docs/services.md
// ("Moving the services Leases") says, and the way an operator might get
// wrong: a rolling update, one node at a time, to --services-namespace.
//
// Three nodes serve four Services from kube-system (an install made before
// the option existed). The new RBAC is applied, then each node in turn is
// stopped and started with --services-namespace vipkeeper-system, as a
// DaemonSet's rolling update does. Each new daemon must hold its Services
// back (nsguard) while the old node Leases are in kube-system, held or
// released: the old nodes keep serving every address, the new ones claim
// nothing. Once the last old node is gone the operator deletes the old
// Leases; the new daemons then serve every address again, from
// vipkeeper-system, at the same addresses. At no sample during the move is
// an address bound on two nodes, and the new daemons send nothing to
// kube-system but the guard's list.
func TestServicesNamespaceMove(t *testing.T) {
	if !lab.DaemonHasFlag(t, "--services-namespace") {
		t.Skip("vipkeeper run has no --services-namespace yet")
	}
	l := lab.Start(t, lab.Options{Services: true, NoControlPlaneVIP: true, Audit: true, LeaseName: leaseName, LeaseNamespace: leaseNamespace})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var addrs []netip.Addr
	for k := range 4 {
		name := fmt.Sprintf("move-%d", k)
		l.CreateService(lab.ServiceSpec{Name: name, IPv6: k%2 == 1})
		addrs = append(addrs, checkIngress(t, l.WaitIngress("", name, serviceUp), netip.Addr{}))
	}
	before := waitBoundOnce(t, l, addrs, 30*time.Second)
	t.Logf("served from %s: %v", leaseNamespace, before)
	applyMoveRBAC(ctx, t, l)

	s := sampleOverlaps(l, addrs)
	defer s.stop()
	var auditFrom int64
	newFlags := []string{"--services-namespace", servicesNamespace}
	for i := range l.Nodes() {
		l.KillNode(i, syscall.SIGTERM)
		if code := l.WaitNodeExit(i, 30*time.Second); code != 0 {
			t.Fatalf("vipkeeper on %s exited %d on SIGTERM", l.NodeName(i), code)
		}
		auditFrom = l.AuditOffset() // the last time: every old daemon is gone
		l.StartNodeArgs(i, newFlags...)
		if !lab.WaitFor(15*time.Second, func() bool { return len(l.GrepLog(i, 1, guardBlocked)) > 0 }) {
			t.Errorf("%s with --services-namespace did not hold its Services back while old node Leases are in %s", l.NodeName(i), leaseNamespace)
		}
		if i < l.Nodes()-1 {
			// The old nodes left serve every address, once each.
			held := waitBoundOnce(t, l, addrs, 30*time.Second)
			for a, node := range held {
				if l.NodeIndex(node) <= i {
					t.Errorf("%s is bound on %s, which runs the new namespace and must hold back", a, node)
				}
			}
		}
		if got, err := l.LeasesIn(servicesNamespace, lab.RoleNode); err != nil || len(got) > 0 {
			t.Errorf("node Leases in %s while held back: %v (%v)", servicesNamespace, got, err)
		}
	}

	// Every old daemon is gone; their released node Leases still hold the
	// new ones back. The operator's last step: delete the old Leases.
	gone := time.Now()
	err := l.Admin().CoordinationV1().Leases(leaseNamespace).DeleteCollection(ctx, metav1.DeleteOptions{},
		metav1.ListOptions{LabelSelector: lab.RoleLabel})
	if err != nil {
		t.Fatal(err)
	}
	after := waitBoundOnce(t, l, addrs, 45*time.Second) // the guard looks again within 10 s
	t.Logf("served from %s %v after the old Leases were deleted: %v", servicesNamespace, time.Since(gone).Round(time.Millisecond), after)
	for k, a := range addrs {
		svc, err := l.GetService("", fmt.Sprintf("move-%d", k))
		if err != nil {
			t.Fatal(err)
		}
		if got := lab.IngressAddrs(svc); len(got) != 1 || got[0] != a {
			t.Errorf("Service %s: ingress %v after the move, want %s", svc.Name, got, a)
		}
		if got := l.WaitServed(a, 10*time.Second); got == "" {
			t.Errorf("%s is not served after the move", a)
		}
	}
	var nodes map[string]string
	lab.WaitFor(15*time.Second, func() bool { // each guard looks again on its own 10 s schedule
		nodes, err = l.LeasesIn(servicesNamespace, lab.RoleNode)
		return err == nil && len(nodes) == l.Nodes()
	})
	if err != nil || len(nodes) != l.Nodes() {
		t.Errorf("node Leases in %s: %v (%v); want one per node", servicesNamespace, nodes, err)
	}
	if old, err := l.LeasesIn(leaseNamespace, lab.RoleClaim); err != nil || len(old) > 0 {
		t.Errorf("claims left in %s: %v (%v)", leaseNamespace, old, err)
	}
	samples, overlaps := s.stop()
	t.Logf("%d samples of %d addresses during the move", samples, len(addrs))
	for _, o := range overlaps {
		t.Errorf("bound on two nodes at once: %s", o)
	}
	for _, e := range l.AuditEvents(auditFrom) {
		if e.Namespace == leaseNamespace && !(e.Verb == "list" && e.Resource == "leases") {
			t.Errorf("a services-only daemon sent %s: only the guard's list belongs in %s", e, leaseNamespace)
		}
		if e.Code == 403 {
			t.Errorf("refused: %s", e)
		}
	}
	checkNotForbidden(t, l)
}

// applyMoveRBAC applies what `vipkeeper manifest rbac` generates for the
// new flags (step 1 of the move): the services Role in the new namespace
// and the guard's Role in the lease namespace. The lab's grants of the old
// install stay, as the old rbac.yaml would.
func applyMoveRBAC(ctx context.Context, t *testing.T, l *lab.Lab) {
	t.Helper()
	vk, err := lab.VipkeeperBin()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"manifest", "rbac", "--interface", "eth0", "--lease-name", leaseName, "--lease-namespace", leaseNamespace,
		"--services", "--services-namespace", servicesNamespace}
	for _, p := range lab.DefaultServicePools {
		args = append(args, "--services-pool", p)
	}
	out, err := exec.CommandContext(ctx, vk, args...).Output()
	if err != nil {
		t.Fatalf("vipkeeper %s: %v", strings.Join(args, " "), err)
	}
	for _, obj := range decodeAll(t, "manifest rbac", out) {
		if err := create(ctx, l.Admin(), obj, false); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("create %T: %v", obj, err)
		}
	}
}

// overlapSampler records every sample in which an address is bound on
// more than one node.
type overlapSampler struct {
	done     chan struct{}
	wg       sync.WaitGroup
	once     sync.Once
	samples  int
	overlaps []string
}

func sampleOverlaps(l *lab.Lab, addrs []netip.Addr) *overlapSampler {
	s := &overlapSampler{done: make(chan struct{})}
	began := time.Now()
	s.wg.Go(func() {
		for {
			select {
			case <-s.done:
				return
			case <-time.After(ownerSampleEvery):
			}
			held, err := l.HoldersOfAll(addrs)
			if err != nil {
				continue // a node's namespace between runs; the next sample reads it
			}
			s.samples++
			for _, a := range addrs {
				if len(held[a]) > 1 && len(s.overlaps) < 10 {
					s.overlaps = append(s.overlaps, fmt.Sprintf("%s on %v at +%v", a, held[a], time.Since(began).Round(time.Millisecond)))
				}
			}
		}
	})
	return s
}

// stop ends the sampling and returns what it saw.
func (s *overlapSampler) stop() (samples int, overlaps []string) {
	s.once.Do(func() { close(s.done) })
	s.wg.Wait()
	return s.samples, s.overlaps
}
