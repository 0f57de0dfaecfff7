package lab

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// HA mode (Options.HA) is a control plane like kubeadm's: every node
// namespace runs its own kube-apiserver, and vipkeeper keeps the VIP in
// front of them. The API servers share the lab's one etcd, which stays in
// the API namespace (a three-member etcd would make the node-crash figures
// depend on etcd's own re-election).

const (
	// HAServerName is the name every kubeconfig of an HA lab points at (a
	// kubeadm controlPlaneEndpoint) and every serving certificate names. It
	// is under a name reserved for documentation (RFC 2606) and is never
	// resolved: every client of the lab chooses the address it dials, and
	// TLS checks the certificate against this name.
	HAServerName = "control-plane.lab.example"
	// ShutdownDelay is the HA API servers' --shutdown-delay-duration: how
	// long a SIGTERMed kube-apiserver keeps serving with /readyz failing.
	// The VIP must leave it within that time: the local check's fall ×
	// interval (2 × 500 ms), up to one more interval of phase, then the
	// release, a follower's acquire and its announcement (a few hundred ms)
	// — about 2 s; a third second is margin for a loaded two-core machine.
	ShutdownDelay = 3 * time.Second
	// haPrefix starts the process name of every HA API server
	// ("kube-apiserver-n1"); the single API server is "kube-apiserver".
	haPrefix = "kube-apiserver-"
	// haDialTimeout bounds the admin's dial of one API server before it
	// tries the next: a LAN connect takes well under a millisecond, and a
	// crashed node's address does not answer at all.
	haDialTimeout = 500 * time.Millisecond
	// haStopTimeout bounds a SIGTERMed API server's exit: the shutdown
	// delay, then its HTTP server's shutdown, which waits for open watches
	// (the daemons' end within their 30 s timeout; it measured 25–30 s)
	// and gives up after 60 s.
	haStopTimeout = ShutdownDelay + 60*time.Second
)

// etcdURL is etcd's client URL in an HA lab, on the API namespace's address.
func etcdURL() string { return "http://" + hostPort(apiAddr4.String(), 2379) }

// serverURL is the server of every kubeconfig the lab writes.
func (l *Lab) serverURL() string {
	if l.opts.HA {
		return "https://" + hostPort(HAServerName, apiPort)
	}
	return apiServerURL()
}

// nodeAPIAddr is node i's API server, "address:6443".
func nodeAPIAddr(i int) string { return hostPort(nodeAddr4(i).String(), apiPort) }

// haAPIServerAddrs are the API servers node i uses, in order: its own on
// loopback, then the other nodes'.
func (l *Lab) haAPIServerAddrs(i int) []string {
	addrs := []string{hostPort("127.0.0.1", apiPort)}
	for k := range l.opts.Nodes {
		if k != i {
			addrs = append(addrs, nodeAPIAddr(k))
		}
	}
	return addrs
}

// haAPIServerFlags are node i's --api-server flags (haAPIServerAddrs).
func (l *Lab) haAPIServerFlags(i int) []string {
	var args []string
	for _, a := range l.haAPIServerAddrs(i) {
		args = append(args, "--api-server", "https://"+a)
	}
	return args
}

// haServingNames are the names in node i's serving certificate, as kubeadm
// issues them: the node's addresses, the VIPs (the controlPlaneEndpoint),
// the first service address, the in-cluster names, the node's name and
// HAServerName — and not 127.0.0.1.
func (l *Lab) haServingNames(i int) sans {
	ips := []net.IP{nodeAddr4(i).AsSlice(), nodeAddr6(i).AsSlice(), net.IPv4(198, 51, 100, 1)}
	for _, v := range l.opts.VIPs {
		ips = append(ips, v.AsSlice())
	}
	return sans{ips: ips, dns: append(serviceNames(), HAServerName, l.nodes[i].name)}
}

// haAPIServerArgs are the single API server's flags, moved into node i's
// namespace: etcd across the bridge, listening on every address (the
// node's own, loopback and the VIP while the node holds it), node i's own
// serving certificate, and ShutdownDelay.
func (l *Lab) haAPIServerArgs(i int) ([]string, error) {
	name := l.nodes[i].name
	cert, key, err := l.pki.servingCert("apiserver-"+name, l.haServingNames(i))
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(l.Dir, "apiserver-"+name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	args := apiserverArgs(l.pki, dir)
	for flag, v := range map[string]string{
		"--etcd-servers":         etcdURL(),
		"--bind-address":         "::", // dual-stack wildcard
		"--advertise-address":    nodeAddr4(i).String(),
		"--tls-cert-file":        cert,
		"--tls-private-key-file": key,
	} {
		args = setFlag(args, flag, v)
	}
	return append(args, "--shutdown-delay-duration="+ShutdownDelay.String()), nil
}

// setFlag replaces the value of --flag=… in args.
func setFlag(args []string, flag, value string) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		if strings.HasPrefix(a, flag+"=") {
			a = flag + "=" + value
		}
		out = append(out, a)
	}
	return out
}

// startHA starts every node's API server and waits until all are ready.
func (l *Lab) startHA(ctx context.Context) error {
	for i := range l.nodes {
		if err := l.startNodeAPIServer(i); err != nil {
			return err
		}
	}
	for i := range l.nodes {
		if _, err := l.waitNodeAPIReady(ctx, i, readyTimeout); err != nil {
			return err
		}
	}
	return nil
}

func (l *Lab) startNodeAPIServer(i int) error {
	n := l.nodes[i]
	args, err := l.haAPIServerArgs(i)
	if err != nil {
		return err
	}
	p, err := l.startProc(haPrefix+n.name, n.ns, nil, l.onControlExit, l.apiserverBin, args...)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.apiserver = p
	n.mu.Unlock()
	return nil
}

func (n *node) currentAPIServer() *proc {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.apiserver
}

// readyz is one anonymous GET of node i's /readyz from the API namespace,
// on a fresh connection, its certificate checked against HAServerName.
// /readyz is readable by everyone (system:public-info-viewer).
func (l *Lab) readyz(ctx context.Context, i int) error {
	c := l.readyzClient()
	ctx, cancel := context.WithTimeout(ctx, time.Second) // a ready server answers in milliseconds
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+hostPort(HAServerName, apiPort)+"/readyz", nil)
	if err != nil {
		return err
	}
	req = req.WithContext(context.WithValue(ctx, dialTarget{}, nodeAPIAddr(i)))
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz of %s: %s", l.nodes[i].name, resp.Status)
	}
	return nil
}

// dialTarget is the context key that tells readyzClient which address to
// dial.
type dialTarget struct{}

func (l *Lab) readyzClient() *http.Client {
	l.readyzOnce.Do(func() {
		l.readyzHTTP = &http.Client{Transport: &http.Transport{
			DisableKeepAlives: true, // a fresh connection each time: a dead server fails at once
			TLSClientConfig:   &tls.Config{RootCAs: l.CAPool(), ServerName: HAServerName},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return l.api.DialContext(ctx, network, ctx.Value(dialTarget{}).(string))
			},
		}}
	})
	return l.readyzHTTP
}

// waitNodeAPIReady polls node i's /readyz every 50 ms until it answers 200
// and returns when it first did.
func (l *Lab) waitNodeAPIReady(ctx context.Context, i int, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if last = l.readyz(ctx, i); last == nil {
			return time.Now(), nil
		}
		time.Sleep(50 * time.Millisecond) // the resolution of the "ready again" figures
	}
	p := l.nodes[i].currentAPIServer()
	return time.Time{}, fmt.Errorf("kube-apiserver of %s not ready after %v: %v\n--- its log ---\n%s", l.nodes[i].name, timeout, last, tail(p.log, 30))
}

// failoverDial returns a dial function that connects from ns to the first
// of addrs that accepts, ignoring the address it is asked for (which names
// HAServerName), like vipkeeper's own --api-server failover.
func failoverDial(ns *NS, addrs []string) func(ctx context.Context, network, _ string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var errs []error
		for _, a := range addrs {
			dctx, cancel := context.WithTimeout(ctx, haDialTimeout)
			c, err := ns.DialContext(dctx, network, a)
			cancel()
			if err == nil {
				return c, nil
			}
			errs = append(errs, err)
		}
		return nil, fmt.Errorf("no API server answers: %w", errors.Join(errs...))
	}
}

// allNodeAPIAddrs are every node's API server, in node order.
func (l *Lab) allNodeAPIAddrs() []string {
	var out []string
	for i := range l.opts.Nodes {
		out = append(out, nodeAPIAddr(i))
	}
	return out
}

// CAPool holds the lab's CA, which signs every serving certificate.
func (l *Lab) CAPool() *x509.CertPool {
	roots := x509.NewCertPool()
	roots.AddCert(l.pki.ca.parsed)
	return roots
}

// HA reports whether the lab runs an API server on every node.
func (l *Lab) HA() bool { return l.opts.HA }

// StartAPIServerOn starts node i's kube-apiserver (again) and returns at
// once; WaitAPIReadyOn waits for it.
func (l *Lab) StartAPIServerOn(i int) {
	l.t.Helper()
	l.needHA("StartAPIServerOn")
	if p := l.nodes[i].currentAPIServer(); p != nil && !p.Exited() {
		l.t.Fatalf("StartAPIServerOn(%d): kube-apiserver of %s (pid %d) still runs", i, l.NodeName(i), p.PID())
	}
	if err := l.startNodeAPIServer(i); err != nil {
		l.t.Fatalf("StartAPIServerOn(%d): %v", i, err)
	}
}

// WaitAPIReadyOn waits until node i's /readyz answers 200 and returns the
// instant it first did (within 50 ms).
func (l *Lab) WaitAPIReadyOn(i int, timeout time.Duration) time.Time {
	l.t.Helper()
	at, err := l.waitNodeAPIReady(context.Background(), i, timeout)
	if err != nil {
		l.t.Fatalf("WaitAPIReadyOn(%d): %v", i, err)
	}
	return at
}

// APIReadyOn reports whether node i's /readyz answers 200 right now. Safe
// to call from any goroutine.
func (l *Lab) APIReadyOn(i int) bool { return l.readyz(context.Background(), i) == nil }

// KillAPIServerOn SIGKILLs node i's kube-apiserver and waits for its exit.
func (l *Lab) KillAPIServerOn(i int) {
	l.t.Helper()
	l.signalAPIServer(i, syscall.SIGKILL, 5*time.Second) // the kernel reaps a SIGKILLed process promptly
}

// StopAPIServerOn SIGTERMs node i's kube-apiserver and waits for its exit:
// it fails /readyz at once, serves for ShutdownDelay, then drains.
func (l *Lab) StopAPIServerOn(i int) {
	l.t.Helper()
	l.signalAPIServer(i, syscall.SIGTERM, haStopTimeout)
}

// TermAPIServerOn SIGTERMs node i's kube-apiserver and returns at once;
// WaitAPIServerExitOn waits for its exit.
func (l *Lab) TermAPIServerOn(i int) {
	l.t.Helper()
	l.signalAPIServer(i, syscall.SIGTERM, 0)
}

// WaitAPIServerExitOn waits for node i's kube-apiserver to exit and
// returns when it did.
func (l *Lab) WaitAPIServerExitOn(i int) time.Time {
	l.t.Helper()
	if _, err := l.nodes[i].currentAPIServer().wait(haStopTimeout); err != nil {
		l.t.Fatalf("kube-apiserver of %s: %v", l.NodeName(i), err)
	}
	return time.Now()
}

// signalAPIServer sends sig to node i's kube-apiserver and, unless timeout
// is 0, waits up to timeout for its exit.
func (l *Lab) signalAPIServer(i int, sig syscall.Signal, timeout time.Duration) {
	l.t.Helper()
	l.needHA("signalAPIServer")
	p := l.nodes[i].currentAPIServer()
	if err := p.signal(sig); err != nil {
		l.t.Fatalf("%v to kube-apiserver of %s: %v", sig, l.NodeName(i), err)
	}
	if timeout == 0 {
		return
	}
	if _, err := p.wait(timeout); err != nil {
		l.t.Fatalf("kube-apiserver of %s after %v: %v", l.NodeName(i), sig, err)
	}
}

// StopEtcd stops etcd (SIGTERM, SIGKILL after 10 s); its data stay.
// StartEtcd starts it again.
func (l *Lab) StopEtcd() {
	l.t.Helper()
	if _, err := l.etcdProc().stop(10 * time.Second); err != nil {
		l.t.Fatalf("stop etcd: %v", err)
	}
}

// StartEtcd starts etcd again with the same flags and data.
func (l *Lab) StartEtcd() {
	l.t.Helper()
	if p := l.etcdProc(); p != nil && !p.Exited() {
		l.t.Fatalf("etcd (pid %d) still runs", p.PID())
	}
	if err := l.startEtcd(); err != nil {
		l.t.Fatalf("start etcd: %v", err)
	}
}

func (l *Lab) startEtcd() error {
	p, err := l.startProc("etcd", l.api, nil, l.onControlExit, "etcd", etcdArgs(filepath.Join(l.Dir, "etcd"), l.opts.HA)...)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.etcd = p
	l.mu.Unlock()
	return nil
}

func (l *Lab) etcdProc() *proc {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.etcd
}

func (l *Lab) needHA(what string) {
	l.t.Helper()
	if !l.opts.HA {
		l.t.Fatalf("%s: only in an HA lab (Options.HA)", what)
	}
}

func (l *Lab) needSingle(what string) {
	l.t.Helper()
	if l.opts.HA {
		l.t.Fatalf("%s: an HA lab has an API server per node; use the …On(i) methods", what)
	}
}

// killProc SIGKILLs p at teardown and waits for its exit.
func (l *Lab) killProc(p *proc) {
	if err := p.signal(syscall.SIGKILL); err != nil {
		l.t.Errorf("lab teardown: %v", err)
		return
	}
	if _, err := p.wait(5 * time.Second); err != nil { // the kernel reaps a SIGKILLed process promptly
		l.t.Errorf("lab teardown: %v", err)
	}
}
