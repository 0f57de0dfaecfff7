package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"

	"github.com/vipkeeper/vipkeeper/pkg/services"
)

// addressStatus is one Service address as `vipkeeper status --services`
// shows it: from its claim Lease (node, since, pool), the node's Lease
// (is the node live) and the Services whose status holds it.
type addressStatus struct {
	Address string `json:"address"`
	Node    string `json:"node"` // "" when nobody announces it
	// NodeLive: the node's Lease is held and was renewed within its
	// duration; a claim of a dead node is taken over within a lease
	// duration.
	NodeLive     bool       `json:"nodeLive"`
	Pool         string     `json:"pool,omitempty"`
	Since        *time.Time `json:"since,omitempty"`
	SinceSeconds *float64   `json:"sinceSeconds,omitempty"`
	Services     []string   `json:"services,omitempty"`

	since time.Duration
}

// runServicesStatus lists the claims of services mode's namespace.
func runServicesStatus(ctx context.Context, a statusArgs, leases coordinationv1client.LeasesGetter, stdout, stderr io.Writer, d statusDeps) int {
	ns := a.servicesNamespace
	if ns == "" {
		ns = a.leaseNamespace
	}
	list, err := leases.Leases(ns).List(ctx, metav1.ListOptions{LabelSelector: services.LabelRole})
	if err != nil {
		fmt.Fprintf(stderr, "vipkeeper status: listing the Leases in %s: %v\n", ns, err)
		return exitFailure
	}
	var svcs []corev1.Service
	if d.services != nil {
		if sc, err := d.services(a.kubeconfig); err == nil {
			if l, err := sc.Services("").List(ctx, metav1.ListOptions{}); err == nil {
				svcs = l.Items
			} else {
				// A reader may see the Leases and not every Service.
				fmt.Fprintf(stderr, "vipkeeper status: not listing Services (%v); the SERVICES column stays empty\n", err)
			}
		}
	}
	sts := addressStatuses(list.Items, svcs, d.now())
	if a.output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(sts)
	} else {
		err = writeAddressTable(stdout, sts)
	}
	if err != nil {
		fmt.Fprintf(stderr, "vipkeeper status: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// addressStatuses joins the claims with the node Leases and Services,
// in address order.
func addressStatuses(leases []coordinationv1.Lease, svcs []corev1.Service, now time.Time) []addressStatus {
	live := map[string]bool{}
	for _, l := range leases {
		if l.Labels[services.LabelRole] != services.RoleNode || !strings.HasPrefix(l.Name, services.NodeLeasePrefix) {
			continue
		}
		node := strings.TrimPrefix(l.Name, services.NodeLeasePrefix)
		st := statusOf(&l, node, now)
		live[node] = st.Holder == node && !st.Expired
	}
	byAddr := map[netip.Addr][]string{}
	for _, s := range svcs {
		for _, in := range s.Status.LoadBalancer.Ingress {
			if a, err := netip.ParseAddr(in.IP); err == nil {
				byAddr[a.Unmap()] = append(byAddr[a.Unmap()], s.Namespace+"/"+s.Name)
			}
		}
	}
	var out []addressStatus
	for _, l := range leases {
		key := l.Annotations[services.AnnotationClaimKey]
		addr, err := netip.ParseAddr(key)
		if l.Labels[services.LabelRole] != services.RoleClaim || err != nil {
			continue // a node Lease, or the allocator role
		}
		st := addressStatus{Address: addr.String(), Pool: l.Annotations[services.AnnotationPool], Services: byAddr[addr]}
		if h := l.Spec.HolderIdentity; h != nil {
			st.Node = *h
		}
		st.NodeLive = st.Node != "" && live[st.Node]
		if t := l.Spec.AcquireTime; t != nil && st.Node != "" {
			at := t.UTC()
			st.Since = &at
			st.since = max(now.Sub(at), 0)
			st.SinceSeconds = ptr(st.since.Seconds())
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(x, y addressStatus) int {
		return netip.MustParseAddr(x.Address).Compare(netip.MustParseAddr(y.Address))
	})
	return out
}

func writeAddressTable(w io.Writer, sts []addressStatus) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tNODE\tPOOL\tSINCE\tSERVICES")
	for _, st := range sts {
		node, pool, since, svcs := "<none>", "-", "-", "-"
		if st.Node != "" {
			node = st.Node
			if !st.NodeLive {
				node += " (node Lease not live)"
			}
		}
		if st.Pool != "" {
			pool = st.Pool
		}
		if st.Since != nil {
			since = age(st.since)
		}
		if len(st.Services) > 0 {
			svcs = strings.Join(st.Services, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", st.Address, node, pool, since, svcs)
	}
	return tw.Flush()
}
