package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/vipkeeper/vipkeeper/e2e/instruments"
)

// node is one node namespace: its daemon, its HTTP server, its identity.
type node struct {
	name       string
	ns         *NS
	port       port
	port2      *port // on the second segment (link2.go); nil if the node has none
	kubeconfig string
	log        string // the daemon's log (all its runs, appended)
	sick       string // while this file exists, the HTTP helper's /healthz fails
	http       *proc

	mu        sync.Mutex // guards daemon and apiserver
	daemon    *proc      // the current run; replaced by StartNode
	apiserver *proc      // HA: the node's kube-apiserver, current run
}

func (n *node) currentDaemon() *proc {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.daemon
}

func nodeRoles(n int) []string {
	roles := make([]string, n)
	for i := range roles {
		roles[i] = "n" + strconv.Itoa(i+1)
	}
	return roles
}

// addNode creates node i's namespace, plugs it in, issues its identity and
// starts its HTTP server.
func (l *Lab) addNode(i int, name string) (*node, error) {
	ns, err := l.newNS(name)
	if err != nil {
		return nil, err
	}
	n := &node{name: name, ns: ns, log: filepath.Join(l.Dir, "vipkeeper-"+name+".log"), sick: filepath.Join(l.Dir, name+".sick")}
	n.port = port{ns: ns, peer: name, addr4: nodeAddr4(i), addr6: nodeAddr6(i)}
	if err := plug(l.br, n.port); err != nil {
		return nil, err
	}
	if l.opts.hasLink2(i) {
		p := link2Port(ns, i, name)
		if err := plug(l.br, p); err != nil {
			return nil, fmt.Errorf("%s: %w", SecondInterface, err)
		}
		n.port2 = &p
	}
	if n.kubeconfig, err = l.pki.kubeconfig(name+".kubeconfig", nodeSubject(name), l.serverURL()); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	env := []string{envHelper + "=http", envHelperNode + "=" + name, envHelperSick + "=" + n.sick,
		envHelperListen + "=" + net.JoinHostPort("::", strconv.Itoa(l.opts.Port))}
	n.http, err = l.startProc("http-"+name, ns, env, func(p *proc, unexpected bool) {
		if unexpected {
			l.fail(fmt.Sprintf("HTTP server of %s exited: %v\n%s", name, p.state, tail(p.log, 10)))
		}
	}, self)
	return n, err
}

// waitHTTP waits until node i's HTTP server answers on the node's own address.
func (l *Lab) waitHTTP(ctx context.Context, i int) error {
	addr := hostPort(l.nodes[i].port.addr4.String(), l.opts.Port)
	deadline := time.Now().Add(10 * time.Second) // the helper starts in well under a second
	var last error
	for time.Now().Before(deadline) {
		got, err := l.get(ctx, addr, time.Second)
		if err == nil && got == l.nodes[i].name {
			return nil
		}
		last = fmt.Errorf("got %q, %v", got, err)
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("HTTP server of %s not answering on %s: %v", l.nodes[i].name, addr, last)
}

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// daemonArgs is the daemon's command line: the contract in the lead's brief.
func (l *Lab) daemonArgs(i int) []string {
	n := l.nodes[i]
	args := []string{"run",
		"--node-name", n.name,
		"--kubeconfig", n.kubeconfig,
		"--interface", "eth0",
		"--lease-name", l.opts.LeaseName,
		"--lease-namespace", l.opts.LeaseNamespace,
		"--lease-duration", l.opts.LeaseDuration.String(),
		"--renew-deadline", l.opts.RenewDeadline.String(),
		"--retry-period", l.opts.RetryPeriod.String(),
		"--log-level", l.opts.LogLevel,
	}
	for _, v := range l.opts.VIPs {
		args = append(args, "--vip", v.String())
	}
	if l.opts.HA {
		args = append(args, l.haAPIServerFlags(i)...)
	}
	if l.opts.Services {
		args = append(args, "--services")
		if l.opts.PoolObjects {
			args = append(args, "--services-pool-objects")
		}
		for _, p := range l.opts.ServicePools {
			if !l.opts.PoolObjects {
				args = append(args, "--services-pool", p)
			}
		}
		if l.opts.ServicesDefaultClass {
			args = append(args, "--services-default-class")
		}
		if l.opts.ServicesNamespace != "" {
			args = append(args, "--services-namespace", l.opts.ServicesNamespace)
		}
	}
	return append(args, l.opts.ExtraArgs...)
}

func (l *Lab) startDaemon(i int, extra ...string) error {
	n := l.nodes[i]
	p, err := l.startProc("vipkeeper-"+n.name, n.ns, nil, func(p *proc, unexpected bool) {
		if unexpected {
			l.fail(fmt.Sprintf("vipkeeper on %s (pid %d) exited unexpectedly: %v\n%s", n.name, p.PID(), p.state, tail(p.log, 30)))
		}
	}, l.vipkeeperBin, append(l.daemonArgs(i), extra...)...)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.daemon = p
	n.mu.Unlock()
	return nil
}

// StartNode starts node i's daemon (again). It fails the test if the
// previous run is still alive.
func (l *Lab) StartNode(i int) {
	l.t.Helper()
	if p := l.nodes[i].currentDaemon(); p != nil && !p.Exited() {
		l.t.Fatalf("StartNode(%d): vipkeeper on %s (pid %d) still runs", i, l.NodeName(i), p.PID())
	}
	if err := l.startDaemon(i); err != nil {
		l.t.Fatalf("StartNode(%d): %v", i, err)
	}
}

// StartNodeArgs starts node i's daemon (again) with extra flags after the
// lab's own; a later flag replaces an earlier one, a list flag adds to it.
func (l *Lab) StartNodeArgs(i int, extra ...string) {
	l.t.Helper()
	if p := l.nodes[i].currentDaemon(); p != nil && !p.Exited() {
		l.t.Fatalf("StartNodeArgs(%d): vipkeeper on %s (pid %d) still runs", i, l.NodeName(i), p.PID())
	}
	if err := l.startDaemon(i, extra...); err != nil {
		l.t.Fatalf("StartNodeArgs(%d): %v", i, err)
	}
}

// KillNode sends sig to node i's daemon; its exit is then not a failure.
func (l *Lab) KillNode(i int, sig syscall.Signal) {
	l.t.Helper()
	p := l.nodes[i].currentDaemon()
	if p == nil {
		l.t.Fatalf("KillNode(%d): no daemon started", i)
	}
	if err := p.signal(sig); err != nil {
		l.t.Fatalf("KillNode(%d): %v", i, err)
	}
}

// WaitNodeExit waits for node i's daemon to exit and returns its exit code
// (-1 if a signal killed it).
func (l *Lab) WaitNodeExit(i int, timeout time.Duration) int {
	l.t.Helper()
	st, err := l.nodes[i].currentDaemon().wait(timeout)
	if err != nil {
		l.t.Fatalf("WaitNodeExit(%d): %v", i, err)
	}
	return st.ExitCode()
}

// NodePID is the PID of node i's current daemon run (0 if none).
func (l *Lab) NodePID(i int) int {
	if p := l.nodes[i].currentDaemon(); p != nil {
		return p.PID()
	}
	return 0
}

// NodeAlive reports whether node i's current daemon run is alive.
func (l *Lab) NodeAlive(i int) bool {
	p := l.nodes[i].currentDaemon()
	return p != nil && !p.Exited()
}

// Nodes is the number of nodes.
func (l *Lab) Nodes() int { return len(l.nodes) }

// NodeName is node i's name ("n1" for i = 0).
func (l *Lab) NodeName(i int) string { return l.nodes[i].name }

// NodeIndex is the index of the node called name, or -1.
func (l *Lab) NodeIndex(name string) int {
	for i, n := range l.nodes {
		if n.name == name {
			return i
		}
	}
	return -1
}

// NodeAddrs are node i's own addresses on eth0.
func (l *Lab) NodeAddrs(i int) (v4, v6 netip.Addr) {
	return l.nodes[i].port.addr4, l.nodes[i].port.addr6
}

// NodeLog is the path of node i's daemon log.
func (l *Lab) NodeLog(i int) string { return l.nodes[i].log }

// NodeNS is node i's namespace.
func (l *Lab) NodeNS(i int) *NS { return l.nodes[i].ns }

// ClientNS is the client's namespace.
func (l *Lab) ClientNS() *NS { return l.client }

// VIPs are the addresses the daemons keep.
func (l *Lab) VIPs() []netip.Addr { return l.opts.VIPs }

// Port is the HTTP servers' port.
func (l *Lab) Port() int { return l.opts.Port }

// Target is "vip:port", for probing vip from the client.
func (l *Lab) Target(vip netip.Addr) string {
	return net.JoinHostPort(vip.String(), strconv.Itoa(l.opts.Port))
}

// Get asks addr ("host:port") from the client namespace who serves it, on a
// fresh connection.
func (l *Lab) Get(ctx context.Context, addr string, timeout time.Duration) (string, error) {
	return l.get(ctx, addr, timeout)
}

func (l *Lab) get(ctx context.Context, addr string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return instruments.HTTPGet(ctx, l.client.DialContext, addr)
}
