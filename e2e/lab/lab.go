package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
)

// Options configure a lab. Zero values take the defaults noted per field.
type Options struct {
	Nodes          int          // node namespaces and daemons; default 3, at most 9
	VIPs           []netip.Addr // default DefaultVIPs (one IPv4, one IPv6)
	Port           int          // the HTTP servers' port; default DefaultPort
	LeaseName      string       // default "vipkeeper-cp"
	LeaseNamespace string       // default "kube-system"
	LeaseDuration  time.Duration
	RenewDeadline  time.Duration
	RetryPeriod    time.Duration // defaults 5s, 3s, 1s
	LogLevel       string        // default "debug"
	ExtraArgs      []string      // appended to every `vipkeeper run`
	NoDaemons      bool          // bring up everything but the daemons; start them with StartNode

	// Services runs every daemon with --services (LoadBalancer Services,
	// docs/services.md) and grants the node group ServicesRules
	// (cluster-wide) and ServiceLeaseRules (lease namespace) on top of
	// NodeRules.
	Services bool
	// ServicePools are the --services-pool values; default
	// DefaultServicePools. Only with Services.
	ServicePools []string
	// ServicesDefaultClass adds --services-default-class: Services without
	// a loadBalancerClass are ours too.
	ServicesDefaultClass bool
	// NoControlPlaneVIP runs the daemons without --vip, so no control-plane
	// election runs (services mode only); VIPs() is then empty.
	NoControlPlaneVIP bool
	// ServicesNamespace adds --services-namespace: the node and claim
	// Leases live there (ServiceLeaseRules granted there, GuardRules in
	// the lease namespace). Empty: in the lease namespace. Only with
	// Services.
	ServicesNamespace string
	// PoolObjects runs the daemons with --services-pool-objects instead
	// of the flag pools: the AddressPool CRD is installed and the node
	// group granted PoolRules. The test creates the pools. Only with
	// Services.
	PoolObjects bool

	// SecondLink adds a second segment (link2.go): a bridge br1, an
	// interface SecondInterface (eth1) in the nodes SecondLinkNodes names
	// plugged into it, and a second client on it (ServedOnLink2).
	SecondLink bool
	// SecondLinkNodes are the indexes of the nodes that get
	// SecondInterface; nil means every node. Only with SecondLink.
	SecondLinkNodes []int

	// HA runs a kube-apiserver in every node namespace (ha.go), all on
	// the one etcd, instead of one in the API namespace: the kubeconfigs
	// name HAServerName, every daemon gets --api-server for its own API
	// server (on loopback) then the others', and the admin client fails
	// over between them. Not with Audit.
	HA bool

	// Audit makes kube-apiserver write an audit log of the node group's
	// requests, resource and non-resource alike: AuditEvents lists them,
	// APIRequests counts them (APICounts.Nodes). Only the tests that look
	// at requests turn it on.
	Audit bool
}

func (o *Options) defaults() {
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.NoControlPlaneVIP {
		o.VIPs = nil
	} else if len(o.VIPs) == 0 {
		o.VIPs = DefaultVIPs
	}
	if o.Services && len(o.ServicePools) == 0 {
		o.ServicePools = DefaultServicePools
	}
	if o.Port == 0 {
		o.Port = DefaultPort
	}
	if o.LeaseName == "" {
		o.LeaseName = "vipkeeper-cp"
	}
	if o.LeaseNamespace == "" {
		o.LeaseNamespace = "kube-system"
	}
	if o.LeaseDuration == 0 {
		o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = 5*time.Second, 3*time.Second, time.Second
	}
	if o.LogLevel == "" {
		o.LogLevel = "debug"
	}
}

// DefaultPort is the HTTP servers' port unless Options.Port says otherwise.
const DefaultPort = 8080

// Lab is a running lab. Its methods that take no error return must be called
// from the test's goroutine (they call t.Fatal).
type Lab struct {
	ID  string // random; every namespace is named vk-<ID>-<role>
	Dir string // logs, certificates, kubeconfigs, etcd data

	t                          testing.TB
	opts                       Options
	vipkeeperBin, apiserverBin string
	pki                        *pki
	br, api, client            *NS
	client2                    *NS      // the second segment's client (nil without SecondLink)
	nsNames                    []string // every namespace this lab creates, for teardown
	nodes                      []*node
	admin                      *kubernetes.Clientset
	adminKubeconfig            string
	state                      string // state file for the reaper
	teardownOnce               sync.Once
	deadline                   *time.Timer // tears down before `go test -timeout` panics
	adminDial                  func(ctx context.Context, network, addr string) (net.Conn, error)
	readyzOnce                 sync.Once
	readyzHTTP                 *http.Client // HA: node API servers' /readyz (ha.go)

	mu         sync.Mutex // guards the fields below
	apiserver  *proc      // the single API server (nil in an HA lab)
	etcd       *proc
	procs      []*proc // every process started, in order
	namespaces []*NS   // every namespace opened
	closing    bool    // teardown began: process exits are expected from now on
}

// Start brings a lab up, or skips the test if the machine cannot run one.
// Teardown is registered with t.Cleanup.
func Start(t testing.TB, opts Options) *Lab {
	t.Helper()
	SkipUnlessCapable(t)
	opts.defaults()
	if opts.Nodes < 1 || opts.Nodes > maxNodes {
		t.Fatalf("lab: Nodes = %d, want 1..%d", opts.Nodes, maxNodes)
	}
	if !opts.Services && (opts.NoControlPlaneVIP || opts.ServicesDefaultClass || len(opts.ServicePools) > 0 || opts.ServicesNamespace != "") {
		t.Fatalf("lab: NoControlPlaneVIP, ServicesDefaultClass, ServicePools and ServicesNamespace need Services")
	}
	if opts.HA && opts.Audit {
		t.Fatalf("lab: Audit needs the single API server, not HA")
	}
	if err := opts.checkLink2(); err != nil {
		t.Fatalf("lab: %v", err)
	}
	reapStale(t.Logf)
	vk, apiserver, err := getBinaries()
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	l := &Lab{t: t, opts: opts, vipkeeperBin: vk, apiserverBin: apiserver, ID: newID()}
	if l.Dir, err = os.MkdirTemp("", "vk-lab-"+l.ID+"-"); err != nil {
		t.Fatalf("lab: %v", err)
	}
	register(l)
	t.Cleanup(l.teardown)
	l.armDeadline()
	began := time.Now()
	if err := l.up(context.Background()); err != nil {
		t.Fatalf("lab %s: %v", l.ID, err)
	}
	t.Logf("lab %s up in %v (dir %s)", l.ID, time.Since(began).Round(time.Millisecond), l.Dir)
	return l
}

// SkipUnlessCapable skips t unless it runs as root with ip, iptables and etcd.
func SkipUnlessCapable(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("e2e: needs root (network namespaces); run as root, e.g. `sudo make e2e`")
	}
	bins := []string{"ip", "iptables", "ip6tables", "sysctl", "etcd"}
	if os.Getenv(envVipkeeperBin) == "" {
		bins = append(bins, "go")
	}
	for _, bin := range bins {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("e2e: %s not found (apt-get install -y iproute2 iptables procps etcd-server)", bin)
		}
	}
}

func newID() string {
	b := make([]byte, 3)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// nsName is the name of one of this lab's namespaces.
func (l *Lab) nsName(role string) string { return "vk-" + l.ID + "-" + role }

func (l *Lab) newNS(role string) (*NS, error) {
	ns, err := newNS(l.nsName(role))
	if ns != nil {
		l.mu.Lock()
		l.namespaces = append(l.namespaces, ns)
		l.mu.Unlock()
	}
	return ns, err
}

// startProc starts a process and tracks it for teardown.
func (l *Lab) startProc(name string, ns *NS, env []string, onExit func(*proc, bool), bin string, args ...string) (*proc, error) {
	p, err := startProc(name, filepath.Join(l.Dir, name+".log"), ns, env, onExit, bin, args...)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	return p, nil
}

// up builds the topology, the control plane and the nodes.
func (l *Lab) up(ctx context.Context) error {
	roles := []string{"br", "api", "cl"}
	if l.opts.SecondLink {
		roles = append(roles, "cl2")
	}
	for _, r := range append(roles, nodeRoles(l.opts.Nodes)...) {
		l.nsNames = append(l.nsNames, l.nsName(r))
	}
	if err := l.writeState(l.nsNames); err != nil { // before creating anything the reaper must find
		return err
	}
	var err error
	if l.br, err = l.newNS("br"); err != nil {
		return err
	}
	if err := addBridge(l.br); err != nil {
		return err
	}
	if l.api, err = l.newNS("api"); err != nil {
		return err
	}
	if err := plug(l.br, port{ns: l.api, peer: "api", addr4: apiAddr4, addr6: apiAddr6}); err != nil {
		return err
	}
	if l.client, err = l.newNS("cl"); err != nil {
		return err
	}
	if err := plug(l.br, port{ns: l.client, peer: "cl", addr4: clientAddr4, addr6: clientAddr6, sysctl: clientSysctls}); err != nil {
		return err
	}
	if l.opts.SecondLink {
		if err := l.upLink2(); err != nil {
			return fmt.Errorf("second segment: %w", err)
		}
	}
	if l.pki, err = newPKI(l.Dir, net.IP(apiAddr4.AsSlice())); err != nil {
		return err
	}
	if l.adminKubeconfig, err = l.pki.kubeconfig("admin.kubeconfig", adminSubject, l.serverURL()); err != nil {
		return err
	}
	l.adminDial = l.api.DialContext
	if l.opts.HA {
		l.adminDial = failoverDial(l.api, l.allNodeAPIAddrs())
	}
	if l.admin, err = clientFor(l.adminKubeconfig, l.adminDial, l.opts.HA); err != nil {
		return err
	}
	if err := l.startEtcd(); err != nil {
		return err
	}
	if !l.opts.HA {
		if err := l.startAPIServer(ctx); err != nil {
			return err
		}
		if l.opts.PoolObjects {
			if err := l.enablePoolObjects(ctx); err != nil {
				return err
			}
		}
	}
	for i, role := range nodeRoles(l.opts.Nodes) {
		n, err := l.addNode(i, role)
		if err != nil {
			return fmt.Errorf("node %s: %w", role, err)
		}
		l.nodes = append(l.nodes, n)
	}
	if l.opts.HA {
		if err := l.startHA(ctx); err != nil {
			return err
		}
	}
	if err := grantNodes(ctx, l.admin, l.opts.LeaseNamespace, l.opts.LeaseName); err != nil {
		return err
	}
	if l.opts.Services {
		if err := grantServices(ctx, l.admin, l.opts.LeaseNamespace, l.ServicesNamespace()); err != nil {
			return err
		}
	}
	for i := range l.nodes {
		if err := l.waitHTTP(ctx, i); err != nil {
			return err
		}
		if !l.opts.NoDaemons {
			if err := l.startDaemon(i); err != nil {
				return err
			}
		}
	}
	return nil
}

func (l *Lab) setAPIServer(p *proc) {
	l.mu.Lock()
	l.apiserver = p
	l.mu.Unlock()
}

func (l *Lab) apiServer() *proc {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.apiserver
}

// fail reports a failure seen by a background goroutine, unless teardown
// has begun (then exits are expected and t may be finished).
func (l *Lab) fail(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closing {
		l.t.Errorf("lab %s: %s", l.ID, msg)
	}
}

// teardown stops every process the lab started (by PID), deletes the
// namespaces it created and removes its directory. It runs once, from
// t.Cleanup or from the signal handler, whichever comes first.
func (l *Lab) teardown() {
	l.teardownOnce.Do(func() {
		if l.deadline != nil {
			l.deadline.Stop()
		}
		l.mu.Lock()
		l.closing = true
		procs, namespaces := l.procs, l.namespaces
		l.mu.Unlock()
		if l.t.Failed() {
			l.dumpLogs()
		}
		// Nodes first (in parallel; daemons get time to release the lease),
		// then kube-apiserver, then etcd. An HA lab's API servers are
		// SIGKILLed: SIGTERM would cost each its shutdown delay.
		var wg sync.WaitGroup
		for _, p := range procs {
			if p.name != "etcd" && !strings.HasPrefix(p.name, "kube-apiserver") {
				wg.Go(func() { l.stopProc(p, 5*time.Second) })
			}
		}
		wg.Wait()
		for _, p := range procs {
			if strings.HasPrefix(p.name, haPrefix) {
				wg.Go(func() { l.killProc(p) })
			}
		}
		wg.Wait()
		for _, name := range []string{"kube-apiserver", "etcd"} {
			for _, p := range procs {
				if p.name == name {
					l.stopProc(p, 10*time.Second)
				}
			}
		}
		for _, ns := range namespaces {
			ns.close()
		}
		for i := len(l.nsNames) - 1; i >= 0; i-- {
			if err := deleteNS(l.nsNames[i]); err != nil {
				l.t.Errorf("lab teardown: %v", err)
			}
		}
		if os.Getenv(envKeep) == "" {
			os.RemoveAll(l.Dir)
		} else {
			l.t.Logf("lab %s: kept %s", l.ID, l.Dir)
		}
		os.Remove(l.state)
		unregister(l)
	})
}

// deadlineMargin is how long before the test binary's -timeout the lab
// tears itself down: the timeout panic skips every cleanup.
const deadlineMargin = 15 * time.Second

func (l *Lab) armDeadline() {
	d, ok := l.t.(interface{ Deadline() (time.Time, bool) })
	if !ok {
		return
	}
	end, ok := d.Deadline()
	if !ok {
		return
	}
	l.deadline = time.AfterFunc(time.Until(end)-deadlineMargin, func() {
		l.t.Errorf("lab %s: test binary timeout in %v: tearing the lab down now", l.ID, deadlineMargin)
		l.teardown()
	})
}

// stopProc stops p at teardown. A daemon that does not exit 0 on SIGTERM
// is logged, not failed: the graceful-shutdown test asserts on that.
func (l *Lab) stopProc(p *proc, grace time.Duration) {
	wasRunning := !p.Exited()
	st, err := p.stop(grace)
	switch {
	case err != nil:
		l.t.Errorf("lab teardown: %v", err)
	case wasRunning && strings.HasPrefix(p.name, "vipkeeper-") && st.ExitCode() != 0:
		l.t.Logf("lab teardown: %s (pid %d) ended with %v", p.name, p.PID(), st)
	}
}
