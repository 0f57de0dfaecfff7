package config

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/vipkeeper/vipkeeper/pkg/services/ipam"
)

// option describes one setting. The flag name is the single source of truth:
// the environment variable and the YAML key are derived from it, so the three
// ways of setting a value cannot drift apart.
type option struct {
	name  string // flag name, e.g. "lease-duration"
	usage string
	def   string // default as text; "" means none
	list  bool   // may be given several times
	flag  bool   // a boolean: `--name` alone means true
	typ   string // what the value is, for the usage text: duration, ip, url, …
	// envList says how one value (an environment variable's) holds several
	// items of a list; "" means comma-separated.
	envList string
	apply   func(c *Config, vals []string) error
}

// EnvVar returns the environment variable for a flag name:
// "lease-duration" → "VIPKEEPER_LEASE_DURATION".
func EnvVar(flag string) string {
	return "VIPKEEPER_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// YAMLKey returns the config-file key for a flag name:
// "lease-duration" → "leaseDuration".
func YAMLKey(flag string) string {
	parts := strings.Split(flag, "-")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// options lists every setting of `vipkeeper run`, in the order the reference
// documentation shows them.
var options = []option{
	{name: "node-name", typ: "name", usage: "this node's identity in the Lease (default: the hostname)",
		apply: func(c *Config, v []string) error { c.NodeName = v[0]; return nil }},
	{name: "kubeconfig", typ: "file", usage: "kubeconfig file; in-cluster configuration when empty",
		apply: func(c *Config, v []string) error { c.Kubeconfig = v[0]; return nil }},
	{name: "api-server", typ: "url", list: true, usage: "API server URL used instead of the kubeconfig's server, never the VIP; repeatable: this node's own first (https://127.0.0.1:6443), then the other control-plane nodes, and vipkeeper fails over between them. TLS checks each against the kubeconfig server's host name (docs/deploy-static-pod.md)",
		apply: applyAPIServers},
	{name: "api-server-check", typ: "bool", flag: true, def: "false", usage: "campaign for the control-plane VIP only while the first --api-server (this node's own kube-apiserver) answers /readyz, verified like the election's requests; Service VIPs are not affected (docs/deploy-static-pod.md)",
		apply: boolInto(func(c *Config) *bool { return &c.APIServerCheck.Enabled })},
	{name: "api-server-check-interval", typ: "duration", def: "500ms", usage: "interval between checks of the local API server",
		apply: durationInto(func(c *Config) *time.Duration { return &c.APIServerCheck.Interval })},
	{name: "api-server-check-timeout", typ: "duration", def: "400ms", usage: "timeout of one check of the local API server (less than --api-server-check-interval)",
		apply: durationInto(func(c *Config) *time.Duration { return &c.APIServerCheck.Timeout })},
	{name: "api-server-check-rise", typ: "int", def: "2", usage: "consecutive good checks after which the local API server is ready",
		apply: intInto(func(c *Config) *int { return &c.APIServerCheck.Rise })},
	{name: "api-server-check-fall", typ: "int", def: "2", usage: "consecutive failed checks after which the local API server is not ready",
		apply: intInto(func(c *Config) *int { return &c.APIServerCheck.Fall })},
	{name: "vip", typ: "ip", list: true, usage: "virtual IP to keep (one IPv4, one IPv6, or one of each; repeat the flag or separate with commas); required unless --services",
		apply: applyVIPs},
	{name: "interface", typ: "name", usage: "interface that carries the VIP (required)",
		apply: func(c *Config, v []string) error { c.Interface = v[0]; return nil }},
	{name: "lease-name", typ: "name", def: "vipkeeper", usage: "name of the coordination.k8s.io/v1 Lease used for the election",
		apply: func(c *Config, v []string) error { c.LeaseName = v[0]; return nil }},
	{name: "lease-namespace", typ: "name", def: "kube-system", usage: "namespace of the Lease",
		apply: func(c *Config, v []string) error { c.LeaseNamespace = v[0]; return nil }},
	{name: "lease-duration", typ: "duration", def: "5s", usage: "how long followers wait after the last renewal before taking over",
		apply: durationInto(func(c *Config) *time.Duration { return &c.LeaseDuration })},
	{name: "renew-deadline", typ: "duration", def: "3s", usage: "how long the leader retries renewing before it steps down",
		apply: durationInto(func(c *Config) *time.Duration { return &c.RenewDeadline })},
	{name: "retry-period", typ: "duration", def: "1s", usage: "interval between election attempts and renewals",
		apply: durationInto(func(c *Config) *time.Duration { return &c.RetryPeriod })},
	{name: "health-http", typ: "url", list: true, usage: "HTTP(S) health check, URL[,status=MIN-MAX] (repeatable); the node campaigns only while every check passes",
		apply: func(c *Config, v []string) error { c.healthHTTP = v; return nil }},
	{name: "health-icmp", typ: "ip", list: true, usage: "ICMP echo health check to this IP address (repeatable)",
		apply: func(c *Config, v []string) error { c.healthICMP = v; return nil }},
	{name: "health-interval", typ: "duration", def: "1s", usage: "interval between health probes",
		apply: durationInto(func(c *Config) *time.Duration { return &c.Health.Interval })},
	{name: "health-timeout", typ: "duration", def: "500ms", usage: "timeout of one health probe (less than --health-interval)",
		apply: durationInto(func(c *Config) *time.Duration { return &c.Health.Timeout })},
	{name: "health-rise", typ: "int", def: "2", usage: "consecutive good probes that make a check pass",
		apply: intInto(func(c *Config) *int { return &c.Health.Rise })},
	{name: "health-fall", typ: "int", def: "2", usage: "consecutive failed probes that make a check fail",
		apply: intInto(func(c *Config) *int { return &c.Health.Fall })},
	{name: "health-ca-file", typ: "file", usage: "CA bundle trusted by the HTTPS health checks, besides the system's",
		apply: func(c *Config, v []string) error { c.healthCAFile = v[0]; return nil }},
	{name: "health-insecure-skip-verify", typ: "bool", flag: true, def: "false", usage: "do not verify the HTTPS health checks' certificates (only when you mean it)",
		apply: boolInto(func(c *Config) *bool { return &c.healthInsecure })},
	{name: "safety-margin", typ: "duration", def: "500ms", usage: "the holder drops the VIP this long before its lease could expire for a follower (covers unbinding and clock-rate drift; see docs/safety.md)",
		apply: durationInto(func(c *Config) *time.Duration { return &c.SafetyMargin })},
	{name: "api-outage", typ: "policy", def: "hold", usage: "when the API server is unreachable from the holder: hold (keep the VIP until another node claims it on the wire) or release (drop it before the lease expires)",
		apply: func(c *Config, v []string) error { c.APIOutage = v[0]; return nil }},
	{name: "witness", typ: "policy", def: "peers", usage: "what a holder riding through an API outage needs to keep the VIP past its own deadline: peers (a peer of its group heard on the VIP's link within 1.5 × --retry-period, by beacon frames sent every --retry-period / 4 of EtherType 0x88B5; otherwise it is gone by its deadline as under release) or none (no witness: only for a deliberate single-node group, unsafe with more than one node; docs/safety.md)",
		apply: func(c *Config, v []string) error { c.Witness = v[0]; return nil }},
	{name: "takeover-probe", typ: "duration", def: "30ms", usage: "before binding, wait this long for a previous holder to answer an ARP probe / DAD solicitation for the VIP, repeating until nobody does (bounded); 0 disables",
		apply: durationInto(func(c *Config) *time.Duration { return &c.TakeoverProbe })},
	{name: "announce-refresh", typ: "duration", def: "10s", usage: "interval of the periodic gratuitous ARP/NA while leading; 0 disables it",
		apply: durationInto(func(c *Config) *time.Duration { return &c.AnnounceRefresh })},
	{name: "reconcile-interval", typ: "duration", def: "10s", usage: "interval of the periodic check of the kernel's addresses (netlink events trigger it too)",
		apply: durationInto(func(c *Config) *time.Duration { return &c.ReconcileInterval })},
	{name: "log-level", typ: "level", def: "info", usage: "debug, info, warn or error",
		apply: func(c *Config, v []string) error { c.LogLevel = v[0]; return nil }},
	{name: "log-format", typ: "format", def: "text", usage: "text or json",
		apply: func(c *Config, v []string) error { c.LogFormat = v[0]; return nil }},
	{name: "services", typ: "bool", flag: true, def: "false", usage: "run the LoadBalancer Services controller: Services of class vipkeeper.io/lb get addresses from --services-pool and are announced from one healthy node each (docs/services.md)",
		apply: boolInto(func(c *Config) *bool { return &c.Services })},
	{name: "services-default-class", typ: "bool", flag: true, def: "false", usage: "also handle LoadBalancer Services that set no spec.loadBalancerClass (needs --services)",
		apply: boolInto(func(c *Config) *bool { return &c.ServicesDefaultClass })},
	{name: "services-namespace", typ: "name", usage: "namespace of services mode's node and claim Leases (default: --lease-namespace, as before this option). New installs use one of their own, e.g. vipkeeper-system, so that the Role over its Leases covers nothing else; moving an install: docs/services.md (needs --services)",
		apply: func(c *Config, v []string) error { c.ServicesNamespace = v[0]; return nil }},
	{name: "services-pool", typ: "pool", list: true, envList: "one value in which each `pool=` starts the next pool",
		usage: "address pool for LoadBalancer Services, pool=NAME;addresses=ITEM[,ITEM…][;namespaces=NS[,NS…]], an item a CIDR or FIRST-LAST (repeatable; tried in this order; needs --services; docs/services.md)",
		apply: applyServicePools},
	{name: "services-pool-objects", typ: "bool", flag: true, def: "false", usage: "take the address pools from the cluster's AddressPool objects (vipkeeper.io/v1alpha1; `vipkeeper manifest crds`), watched and applied live, instead of --services-pool; the two cannot be mixed (needs --services; docs/services.md)",
		apply: boolInto(func(c *Config) *bool { return &c.ServicePoolObjects })},
	{name: "services-qps", typ: "number", def: "100", usage: "steady request rate (per second) of the Services API client, separate from the Lease client so that a burst of status and claim writes never delays a renewal",
		apply: float32Into(func(c *Config) *float32 { return &c.ServicesQPS })},
	{name: "services-burst", typ: "int", def: "300", usage: "request burst of the Services API client",
		apply: intInto(func(c *Config) *int { return &c.ServicesBurst })},
	{name: "metrics-addr", typ: "host:port", def: DefaultMetricsAddr, usage: "listen address (host:port) of /metrics, /healthz and /readyz; empty disables them (see docs/metrics.md)", apply: applyMetricsAddr},
}

func lookupOption(name string) (option, bool) {
	for _, o := range options {
		if o.name == name {
			return o, true
		}
	}
	return option{}, false
}

func durationInto(field func(*Config) *time.Duration) func(*Config, []string) error {
	return func(c *Config, v []string) error {
		d, err := parseDuration(v[0])
		if err != nil {
			return err
		}
		*field(c) = d
		return nil
	}
}

func intInto(field func(*Config) *int) func(*Config, []string) error {
	return func(c *Config, v []string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v[0]))
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v[0])
		}
		*field(c) = n
		return nil
	}
}

func float32Into(field func(*Config) *float32) func(*Config, []string) error {
	return func(c *Config, v []string) error {
		f, err := strconv.ParseFloat(strings.TrimSpace(v[0]), 32)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%q is not a number", v[0])
		}
		*field(c) = float32(f)
		return nil
	}
}

func boolInto(field func(*Config) *bool) func(*Config, []string) error {
	return func(c *Config, v []string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v[0]))
		if err != nil {
			return fmt.Errorf("%q is not true or false", v[0])
		}
		*field(c) = b
		return nil
	}
}

// parseDuration accepts Go durations ("1500ms", "5s"). A bare number is
// refused rather than guessed at: "5" could mean seconds or milliseconds.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if _, err := strconv.ParseFloat(s, 64); err == nil && s != "0" {
		return 0, fmt.Errorf("%q has no unit (write e.g. %sms or %ss)", s, s, s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (e.g. 500ms, 5s)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

// listItems returns the items of a list setting: every value may hold
// several comma-separated items; blanks around them are ignored.
func listItems(vals []string) []string {
	var items []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
	}
	return items
}

func applyVIPs(c *Config, vals []string) error {
	c.VIPs = c.VIPs[:0]
	for _, s := range listItems(vals) {
		a, err := ParseVIP(s)
		if err != nil {
			return err
		}
		c.VIPs = append(c.VIPs, a)
	}
	return nil
}

// ParseVIP parses one virtual IP: a single unicast host address, written
// bare or with a /32 (IPv4) or /128 (IPv6) prefix, outside every block
// that can never be a VIP (ipam.Unusable: unspecified, loopback,
// multicast, link-local, 0.0.0.0/8, 240.0.0.0/4, IPv4-mapped and
// IPv4-compatible IPv6). Whether the node may use it is CheckHost's.
func ParseVIP(s string) (netip.Addr, error) {
	var a netip.Addr
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
		}
		if p.Bits() != p.Addr().BitLen() {
			return netip.Addr{}, fmt.Errorf("%q is a network, not a single host address (use /%d or no prefix)", s, p.Addr().BitLen())
		}
		a = p.Addr()
	} else {
		var err error
		if a, err = netip.ParseAddr(s); err != nil {
			return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
		}
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q has a zone; a VIP must be a global address", s)
	}
	if why, bad := ipam.Unusable(a); bad {
		return netip.Addr{}, fmt.Errorf("%q is not a unicast host address usable as a VIP: it is %s", s, why)
	}
	return a, nil
}
