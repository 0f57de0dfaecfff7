package lab

import (
	"context"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	apiPort = 6443
	// readyTimeout bounds the wait for /readyz; Debian's etcd 3.4 and this
	// kube-apiserver are ready within ~10 s on 2 cores.
	readyTimeout = 90 * time.Second
	// NodeGroup is the group in every node certificate; RBAC binds to it.
	NodeGroup = "vipkeeper-nodes"
	// rbacName names the Role and RoleBinding the lab creates.
	rbacName = "vipkeeper"
)

// etcdArgs runs etcd on loopback inside the API server's namespace, and
// with ha also on that namespace's address, for the nodes' API servers.
func etcdArgs(dataDir string, ha bool) []string {
	clients := "http://127.0.0.1:2379"
	if ha {
		clients = etcdURL() + "," + clients
	}
	return []string{
		"--name=lab",
		"--data-dir=" + dataDir,
		"--listen-client-urls=" + clients,
		"--advertise-client-urls=" + clients,
		"--listen-peer-urls=http://127.0.0.1:2380",
		"--initial-advertise-peer-urls=http://127.0.0.1:2380",
		"--initial-cluster=lab=http://127.0.0.1:2380",
		"--logger=zap",
		"--log-level=warn",
	}
}

// apiserverArgs are the flags enough to serve Leases, Services and Events:
// client-certificate authentication, RBAC and the default admission
// plugins.
func apiserverArgs(p *pki, dir string) []string {
	return []string{
		"--etcd-servers=http://127.0.0.1:2379",
		"--bind-address=" + apiAddr4.String(),
		"--advertise-address=" + apiAddr4.String(),
		"--secure-port=" + strconv.Itoa(apiPort),
		"--cert-dir=" + dir,
		"--tls-cert-file=" + p.tlsCert,
		"--tls-private-key-file=" + p.tlsKey,
		"--client-ca-file=" + p.caFile,
		"--service-account-key-file=" + p.saPub,
		"--service-account-signing-key-file=" + p.saKey,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=" + serviceRange,
		"--profiling=false",
		"--v=1",
	}
}

// apiServerURL is what every kubeconfig points at.
func apiServerURL() string {
	return "https://" + net.JoinHostPort(apiAddr4.String(), strconv.Itoa(apiPort))
}

// APIAddr is the API server's address, the one CutAPI blocks.
func (l *Lab) APIAddr() netip.Addr { return apiAddr4 }

// clientFor builds a clientset from a kubeconfig that connects with dial
// (from inside a namespace). With http1 it speaks HTTP/1.1, so that a
// request that times out closes its connection and the next one dials
// afresh (another API server, in an HA lab) instead of riding a dead
// HTTP/2 connection until its ping check notices.
func clientFor(kubeconfig string, dial func(ctx context.Context, network, addr string) (net.Conn, error), http1 bool) (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.Dial = dial
	if http1 {
		cfg.TLSClientConfig.NextProtos = []string{"http/1.1"}
	}
	cfg.Timeout = 5 * time.Second // every request is tiny; a hang is a fault being tested
	return kubernetes.NewForConfig(cfg)
}

// waitReady polls /readyz until it answers "ok" or timeout passes.
func waitReady(ctx context.Context, c kubernetes.Interface, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		body, err := c.CoreV1().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && string(body) == "ok" {
			return nil
		}
		last = fmt.Errorf("%v %q", err, body)
		select {
		case <-ctx.Done():
			return fmt.Errorf("kube-apiserver not ready after %v: %v", timeout, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// NodeRules is everything a node's identity may do, in the lease namespace
// only: run a leader election on its one Lease and report events. It is
// exactly the Role `vipkeeper manifest rbac` generates (pkg/manifest.Rules;
// TestManifests checks the two agree), so every scenario proves that the
// documented permissions suffice.
func NodeRules(lease string) []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{coordinationv1.GroupName}, Resources: []string{"leases"}, ResourceNames: []string{lease},
			Verbs: []string{"get", "update", "watch"}},
		{APIGroups: []string{coordinationv1.GroupName}, Resources: []string{"leases"}, Verbs: []string{"create"}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	}
}

// ServicesRules is the cluster-wide part of what services mode needs (a
// ClusterRole): watch Services and write their status, watch EndpointSlices
// (externalTrafficPolicy: Local), report Events on Services. It mirrors
// pkg/manifest.ServicesRules; TestManifests checks that the two agree.
func ServicesRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"services/status"}, Verbs: []string{"patch"}},
		{APIGroups: []string{discoveryv1.GroupName}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	}
}

// ServiceLeaseRules is what services mode needs in the services namespace
// (the lease namespace unless Options.ServicesNamespace): node Leases,
// claim Leases and the allocator claim, all of them watched, and claims
// deleted when their address is released. It mirrors
// pkg/manifest.ServiceLeaseRules.
func ServiceLeaseRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{coordinationv1.GroupName}, Resources: []string{"leases"},
			Verbs: []string{"get", "list", "watch", "create", "update", "delete"}},
	}
}

// GuardRules is what the services guard needs in the lease namespace when
// the services Leases live elsewhere: one list at start-up. It mirrors
// pkg/manifest.GuardRules.
func GuardRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{coordinationv1.GroupName}, Resources: []string{"leases"}, Verbs: []string{"list"}},
	}
}

// servicesRBACName names the ClusterRole, Role and bindings of services
// mode; guardRBACName the guard's Role and binding.
const (
	servicesRBACName = "vipkeeper-services"
	guardRBACName    = "vipkeeper-services-guard"
)

// grantServices grants NodeGroup ServicesRules cluster-wide,
// ServiceLeaseRules in the services namespace svcNS and, when that is not
// the lease namespace ns, GuardRules in ns.
func grantServices(ctx context.Context, c kubernetes.Interface, ns, svcNS string) error {
	subjects := []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: NodeGroup}}
	cr := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: servicesRBACName}, Rules: ServicesRules()}
	if _, err := c.RbacV1().ClusterRoles().Create(ctx, cr, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create clusterrole: %w", err)
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: servicesRBACName},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: servicesRBACName},
		Subjects:   subjects,
	}
	if _, err := c.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create clusterrolebinding: %w", err)
	}
	if err := grantRole(ctx, c, svcNS, servicesRBACName, ServiceLeaseRules()); err != nil {
		return err
	}
	if svcNS != ns {
		return grantRole(ctx, c, ns, guardRBACName, GuardRules())
	}
	return nil
}

// grantRole creates namespace ns if needed, a Role with rules in it, and
// binds it to NodeGroup.
func grantRole(ctx context.Context, c kubernetes.Interface, ns, name string, rules []rbacv1.PolicyRule) error {
	_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", ns, err)
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Rules: rules}
	if _, err := c.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create role %s/%s: %w", ns, name, err)
	}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: NodeGroup}},
	}
	if _, err := c.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create rolebinding %s/%s: %w", ns, name, err)
	}
	return nil
}

// grantNodes creates the least-privilege Role vipkeeper needs in the lease
// namespace and binds it to NodeGroup.
func grantNodes(ctx context.Context, c kubernetes.Interface, ns, lease string) error {
	_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", ns, err)
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: rbacName, Namespace: ns}, Rules: NodeRules(lease)}
	if _, err := c.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create role: %w", err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: rbacName, Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: rbacName},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: NodeGroup}},
	}
	if _, err := c.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create rolebinding: %w", err)
	}
	return nil
}

// nodeSubject is the identity in node i's certificate.
func nodeSubject(name string) pkix.Name {
	return pkix.Name{CommonName: "vipkeeper:" + name, Organization: []string{NodeGroup}}
}

var adminSubject = pkix.Name{CommonName: "vipkeeper-lab-admin", Organization: []string{"system:masters"}}

// startAPIServer starts kube-apiserver and waits until it is ready.
func (l *Lab) startAPIServer(ctx context.Context) error {
	args := apiserverArgs(l.pki, l.Dir)
	if l.opts.Audit {
		audit, err := auditArgs(l.Dir)
		if err != nil {
			return err
		}
		args = append(args, audit...)
	}
	p, err := l.startProc("kube-apiserver", l.api, nil, l.onControlExit, l.apiserverBin, args...)
	if err != nil {
		return err
	}
	l.setAPIServer(p)
	if err := waitReady(ctx, l.admin, readyTimeout); err != nil {
		return fmt.Errorf("%w\n--- kube-apiserver.log ---\n%s", err, tail(p.log, 30))
	}
	return nil
}

// StopAPIServer stops kube-apiserver (SIGTERM, then SIGKILL after 10 s);
// etcd and its data stay.
func (l *Lab) StopAPIServer() {
	l.t.Helper()
	l.needSingle("StopAPIServer")
	if _, err := l.apiServer().stop(10 * time.Second); err != nil {
		l.t.Fatalf("stop kube-apiserver: %v", err)
	}
}

// StartAPIServer starts kube-apiserver again with the same flags and waits
// for /readyz.
func (l *Lab) StartAPIServer() {
	l.t.Helper()
	l.needSingle("StartAPIServer")
	if p := l.apiServer(); p != nil && !p.Exited() {
		l.t.Fatalf("kube-apiserver (pid %d) is still running", p.PID())
	}
	if err := l.startAPIServer(context.Background()); err != nil {
		l.t.Fatalf("start kube-apiserver: %v", err)
	}
}

// FreezeAPIServer stops kube-apiserver with SIGSTOP: its connections stay
// open and nothing answers on them, as with a hung server or a dead path
// that drops packets silently. ThawAPIServer resumes it.
func (l *Lab) FreezeAPIServer() {
	l.t.Helper()
	l.needSingle("FreezeAPIServer")
	if err := l.apiServer().signal(syscall.SIGSTOP); err != nil {
		l.t.Fatalf("freeze kube-apiserver: %v", err)
	}
}

// ThawAPIServer resumes a frozen kube-apiserver (SIGCONT).
func (l *Lab) ThawAPIServer() {
	l.t.Helper()
	l.needSingle("ThawAPIServer")
	if err := l.apiServer().signal(syscall.SIGCONT); err != nil {
		l.t.Fatalf("thaw kube-apiserver: %v", err)
	}
}

// onControlExit reports etcd or kube-apiserver dying on their own.
func (l *Lab) onControlExit(p *proc, unexpected bool) {
	if unexpected {
		l.fail(fmt.Sprintf("%s (pid %d) exited unexpectedly: %v\n%s", p.name, p.PID(), p.state, tail(p.log, 20)))
	}
}

// Admin returns a cluster-admin client (it dials from the API server's
// namespace, so node faults do not affect it).
func (l *Lab) Admin() kubernetes.Interface { return l.admin }

// AdminClient returns a new cluster-admin client limited to qps requests
// per second (burst burst) instead of client-go's default 5 (10), for tests
// that create many objects.
func (l *Lab) AdminClient(qps float32, burst int) kubernetes.Interface {
	l.t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", l.adminKubeconfig)
	if err != nil {
		l.t.Fatalf("AdminClient: %v", err)
	}
	cfg.Dial = l.adminDial
	cfg.Timeout = 10 * time.Second // a create under load takes milliseconds to a second
	cfg.QPS, cfg.Burst = qps, burst
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		l.t.Fatalf("AdminClient: %v", err)
	}
	return c
}

// NodeClient returns a client with node i's identity, dialling from node i's
// namespace.
func (l *Lab) NodeClient(i int) kubernetes.Interface {
	l.t.Helper()
	dial := l.nodes[i].ns.DialContext
	if l.opts.HA { // the kubeconfig names HAServerName: dial what the daemon dials
		dial = failoverDial(l.nodes[i].ns, l.haAPIServerAddrs(i))
	}
	c, err := clientFor(l.nodes[i].kubeconfig, dial, l.opts.HA)
	if err != nil {
		l.t.Fatalf("client for %s: %v", l.NodeName(i), err)
	}
	return c
}

// LeaseHolder returns the lease's holderIdentity ("" if none).
func (l *Lab) LeaseHolder(ctx context.Context) (string, error) {
	lease, err := l.admin.CoordinationV1().Leases(l.opts.LeaseNamespace).Get(ctx, l.opts.LeaseName, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if lease.Spec.HolderIdentity == nil {
		return "", nil
	}
	return *lease.Spec.HolderIdentity, nil
}

// APIServerURL is the single API server of a lab without HA, as the
// nodes' kubeconfigs name it.
func APIServerURL() string {
	return "https://" + netip.AddrPortFrom(apiAddr4, apiPort).String()
}
