package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	coordinationv1 "k8s.io/api/coordination/v1"

	"github.com/vipkeeper/vipkeeper/pkg/config"
	"github.com/vipkeeper/vipkeeper/pkg/kube"
)

// statusTimeout bounds `vipkeeper status`: one GET of the Lease.
const statusTimeout = 10 * time.Second

// statusArgs are the parsed flags of `vipkeeper status`.
type statusArgs struct {
	kubeconfig, leaseName, leaseNamespace, nodeName, output string
	// services lists services mode's addresses (status_services.go).
	services          bool
	servicesNamespace string
}

// statusDeps are what `vipkeeper status` reads besides its flags;
// replaced in tests.
type statusDeps struct {
	lookupEnv func(string) (string, bool)
	hostname  func() (string, error)
	leases    func(kubeconfig string) (coordinationv1client.LeasesGetter, error)
	// services lists Services for --services; nil: the SERVICES column
	// stays empty.
	services func(kubeconfig string) (corev1client.ServicesGetter, error)
	now      func() time.Time
}

var realStatusDeps = statusDeps{lookupEnv: os.LookupEnv, hostname: os.Hostname, leases: leaseClient, services: serviceClient, now: time.Now}

// statusFlags defines the flags. Defaults come from the daemon's own
// environment variables (VIPKEEPER_LEASE_NAME, …), then from the daemon's
// defaults, so that on a node the command needs no flags.
func statusFlags(a *statusArgs, d statusDeps) *pflag.FlagSet {
	run := config.FlagSet("run")
	def := func(name string) string {
		if v, ok := d.lookupEnv(config.EnvVar(name)); ok {
			return v
		}
		if f := run.Lookup(name); f != nil {
			return f.DefValue
		}
		return ""
	}
	fs := pflag.NewFlagSet("status", pflag.ContinueOnError)
	fs.StringVar(&a.kubeconfig, "kubeconfig", def("kubeconfig"), "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then the in-cluster configuration)")
	fs.StringVar(&a.leaseName, "lease-name", def("lease-name"), "name of the Lease")
	fs.StringVar(&a.leaseNamespace, "lease-namespace", def("lease-namespace"), "namespace of the Lease")
	fs.StringVar(&a.nodeName, "node-name", def("node-name"), "this node's identity in the Lease (default: the hostname)")
	fs.StringVarP(&a.output, "output", "o", "table", "output format: table or json")
	fs.BoolVar(&a.services, "services", false, "list services mode's addresses instead: address, the node that announces it, its pool, since when, and its Services")
	fs.StringVar(&a.servicesNamespace, "services-namespace", def("services-namespace"), "namespace of services mode's Leases (default: --lease-namespace)")
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	return fs
}

// statusCommand runs `vipkeeper status`. Exit status: 0 the Lease was
// read, 1 it could not be, 2 bad flags.
func statusCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runStatus(ctx, args, stdout, stderr, realStatusDeps)
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer, d statusDeps) int {
	var a statusArgs
	fs := statusFlags(&a, d)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprintln(stdout, "Usage: vipkeeper status [flags]\n\nPrints who holds the Lease, for how long, how many times it changed hands,\nhow long ago it was renewed, and whether the holder is this node.\nWith --services: every LoadBalancer Service address, the node that announces\nit, its pool, since when, and the Services that hold it.\n\nFlags:")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return exitOK
		}
		fmt.Fprintf(stderr, "vipkeeper status: %v\n", err)
		return exitUsage
	}
	if err := a.validate(fs.Args(), d); err != nil {
		fmt.Fprintf(stderr, "vipkeeper status: %v\n", err)
		return exitUsage
	}
	leases, err := d.leases(a.kubeconfig)
	if err != nil {
		fmt.Fprintf(stderr, "vipkeeper status: --kubeconfig: %v\n", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	if a.services {
		return runServicesStatus(ctx, a, leases, stdout, stderr, d)
	}
	lease, err := leases.Leases(a.leaseNamespace).Get(ctx, a.leaseName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		fmt.Fprintf(stderr, "vipkeeper status: Lease %s/%s does not exist: no vipkeeper has campaigned for it yet, or --lease-name/--lease-namespace differ from the daemon's\n",
			a.leaseNamespace, a.leaseName)
		return exitFailure
	}
	if err != nil {
		fmt.Fprintf(stderr, "vipkeeper status: reading Lease %s/%s: %v\n", a.leaseNamespace, a.leaseName, err)
		return exitFailure
	}
	st := statusOf(lease, a.nodeName, d.now())
	write := writeStatusTable
	if a.output == "json" {
		write = writeStatusJSON
	}
	if err := write(stdout, []leaseStatus{st}); err != nil {
		fmt.Fprintf(stderr, "vipkeeper status: %v\n", err)
		return exitFailure
	}
	return exitOK
}

func (a *statusArgs) validate(rest []string, d statusDeps) error {
	switch {
	case len(rest) > 0:
		return fmt.Errorf("unexpected arguments %q", rest)
	case a.output != "table" && a.output != "json":
		return fmt.Errorf("--output: %q is not table or json", a.output)
	}
	// Checked before any request: a name the API server would refuse is
	// the user's mistake (exit 2), not the cluster's.
	if err := config.CheckLeaseName(a.leaseName); err != nil {
		return fmt.Errorf("--lease-name: %w", err)
	}
	if err := config.CheckNamespace(a.leaseNamespace); err != nil {
		return fmt.Errorf("--lease-namespace: %w", err)
	}
	if a.servicesNamespace != "" {
		if err := config.CheckNamespace(a.servicesNamespace); err != nil {
			return fmt.Errorf("--services-namespace: %w", err)
		}
	}
	if a.nodeName == "" {
		h, err := d.hostname()
		if err != nil {
			return fmt.Errorf("--node-name: not set and the hostname is unknown: %w", err)
		}
		a.nodeName = strings.ToLower(strings.TrimSpace(h)) // as `run` takes it
	}
	return nil
}

// leaseClient builds a Lease client: from the kubeconfig given, else by
// kubectl's rules ($KUBECONFIG, ~/.kube/config), else in-cluster.
func leaseClient(kubeconfig string) (coordinationv1client.LeasesGetter, error) {
	cs, err := commandClient(kubeconfig)
	if err != nil {
		return nil, err
	}
	return cs.CoordinationV1(), nil
}

// serviceClient is leaseClient for Services.
func serviceClient(kubeconfig string) (corev1client.ServicesGetter, error) {
	cs, err := commandClient(kubeconfig)
	if err != nil {
		return nil, err
	}
	return cs.CoreV1(), nil
}

func commandClient(kubeconfig string) (kubernetes.Interface, error) {
	var c *rest.Config
	var err error
	if kubeconfig != "" {
		c, err = kube.Load(kubeconfig)
	} else {
		c, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{}).ClientConfig()
	}
	if err != nil {
		return nil, err
	}
	return kube.CommandClient(c, statusTimeout)
}

// leaseStatus is one Lease as `vipkeeper status` shows it. Times are the
// Lease's own; ages are from this machine's clock.
type leaseStatus struct {
	Lease                string     `json:"lease"`
	Holder               string     `json:"holder"` // "" when nobody holds it
	ThisNode             bool       `json:"thisNode"`
	Node                 string     `json:"node"`
	AcquireTime          *time.Time `json:"acquireTime,omitempty"`
	HeldForSeconds       *float64   `json:"heldForSeconds,omitempty"`
	RenewTime            *time.Time `json:"renewTime,omitempty"`
	RenewAgeSeconds      *float64   `json:"renewAgeSeconds,omitempty"`
	LeaseDurationSeconds int32      `json:"leaseDurationSeconds"`
	Transitions          int32      `json:"transitions"`
	// Expired: the last renewal is older than the lease duration; any
	// candidate may take the Lease.
	Expired bool `json:"expired"`

	heldFor, renewAge time.Duration
}

func statusOf(l *coordinationv1.Lease, node string, now time.Time) leaseStatus {
	st := leaseStatus{Lease: l.Namespace + "/" + l.Name, Node: node}
	if h := l.Spec.HolderIdentity; h != nil {
		st.Holder = *h
	}
	st.ThisNode = st.Holder != "" && st.Holder == node
	if d := l.Spec.LeaseDurationSeconds; d != nil {
		st.LeaseDurationSeconds = *d
	}
	if t := l.Spec.LeaseTransitions; t != nil {
		st.Transitions = *t
	}
	if t := l.Spec.AcquireTime; t != nil && st.Holder != "" {
		at := t.UTC()
		st.AcquireTime = &at
		st.heldFor = max(now.Sub(at), 0) // a clock behind the server's
		st.HeldForSeconds = ptr(st.heldFor.Seconds())
	}
	if t := l.Spec.RenewTime; t != nil {
		rt := t.UTC()
		st.RenewTime = &rt
		st.renewAge = max(now.Sub(rt), 0)
		st.RenewAgeSeconds = ptr(st.renewAge.Seconds())
		st.Expired = st.Holder != "" && st.renewAge > time.Duration(st.LeaseDurationSeconds)*time.Second
	}
	return st
}

func ptr[T any](v T) *T { return &v }

func writeStatusTable(w io.Writer, sts []leaseStatus) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "LEASE\tHOLDER\tTHIS NODE\tHELD FOR\tTRANSITIONS\tRENEWED\tDURATION")
	for _, st := range sts {
		holder, heldFor, renewed := "<none>", "-", "-"
		if st.Holder != "" {
			holder = st.Holder
			if st.Expired {
				holder += " (expired)"
			}
		}
		if st.AcquireTime != nil {
			heldFor = age(st.heldFor)
		}
		if st.RenewTime != nil {
			renewed = age(st.renewAge) + " ago"
		}
		this := "no"
		if st.ThisNode {
			this = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%ds\n", st.Lease, holder, this, heldFor, st.Transitions, renewed, st.LeaseDurationSeconds)
	}
	return tw.Flush()
}

// age renders a duration to the precision that matters: milliseconds for
// a renewal's age, seconds once it is longer than a minute.
func age(d time.Duration) string {
	if d < time.Minute {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func writeStatusJSON(w io.Writer, sts []leaseStatus) error {
	// Always a list: one entry per Lease, one today.
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sts)
}
