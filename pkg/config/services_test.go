package config

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vipkeeper/vipkeeper/pkg/services/ipam"
)

// servicesOnly is the least services-mode command line: no VIP.
var servicesOnly = []string{"--interface", "eth0", "--services", "--services-pool", "pool=blue;addresses=203.0.113.0/28"}

var bluePool = ipam.PoolSpec{Name: "blue", Addresses: []string{"203.0.113.0/28"}}

func TestLoadServices(t *testing.T) {
	runLoadCases(t, []loadCase{
		{
			name: "services without a VIP",
			args: servicesOnly,
			want: func(c *Config) {
				c.VIPs = nil
				c.Services = true
				c.ServicePools = []ipam.PoolSpec{bluePool}
			},
		},
		{
			name: "a VIP and services, every flag",
			args: append([]string{"--services", "--services-default-class",
				"--services-pool", "pool=blue;addresses=203.0.113.0/28",
				"--services-pool", "pool=team-a; addresses=198.51.100.10-198.51.100.20, 2001:db8:1::/120; namespaces=team-a,team-a-staging",
				"--services-qps", "50.5", "--services-burst", "100"}, minimal...),
			want: func(c *Config) {
				c.Services = true
				c.ServicesDefaultClass = true
				c.ServicePools = []ipam.PoolSpec{bluePool, {Name: "team-a",
					Addresses:  []string{"198.51.100.10-198.51.100.20", "2001:db8:1::/120"},
					Namespaces: []string{"team-a", "team-a-staging"}}}
				c.ServicesQPS = 50.5
				c.ServicesBurst = 100
			},
		},
		{
			name: "several pools in one environment variable",
			args: minimal,
			env: map[string]string{"VIPKEEPER_SERVICES": "true",
				"VIPKEEPER_SERVICES_POOL": "pool=blue;addresses=203.0.113.0/28;pool=green;cidr=2001:db8:2::/64;namespaces=web"},
			want: func(c *Config) {
				c.Services = true
				c.ServicePools = []ipam.PoolSpec{bluePool, {Name: "green", Addresses: []string{"2001:db8:2::/64"}, Namespaces: []string{"web"}}}
			},
		},
		{
			name:  "YAML list of pools",
			args:  []string{"--config", "/c.yaml"},
			files: map[string]string{"/c.yaml": "interface: eth0\nservices: true\nservicesDefaultClass: true\nservicesPool:\n  - pool=blue;addresses=203.0.113.0/28\n  - addresses=198.51.100.0/28;pool=red\nservicesQps: 20\nservicesBurst: 40\n"},
			want: func(c *Config) {
				c.VIPs = nil
				c.Services = true
				c.ServicesDefaultClass = true
				c.ServicePools = []ipam.PoolSpec{bluePool, {Name: "red", Addresses: []string{"198.51.100.0/28"}}}
				c.ServicesQPS = 20
				c.ServicesBurst = 40
			},
		},
		{
			name:  "flags replace the file's pools",
			args:  []string{"--config", "/c.yaml", "--services-pool", "pool=red;addresses=198.51.100.0/28"},
			files: map[string]string{"/c.yaml": "interface: eth0\nservices: true\nservicesPool: [\"pool=blue;addresses=203.0.113.0/28\"]\n"},
			want: func(c *Config) {
				c.VIPs = nil
				c.Services = true
				c.ServicePools = []ipam.PoolSpec{{Name: "red", Addresses: []string{"198.51.100.0/28"}}}
			},
		},
		{
			name: "a VIP next to a pool, not in it",
			args: []string{"--interface", "eth0", "--vip", "203.0.113.16", "--services", "--services-pool", "pool=blue;addresses=203.0.113.0/28"},
			want: func(c *Config) {
				c.VIPs = []netip.Addr{netip.MustParseAddr("203.0.113.16")}
				c.Services = true
				c.ServicePools = []ipam.PoolSpec{bluePool}
			},
		},
		{
			name: "a namespace of its own for the services Leases",
			args: append([]string{"--services-namespace", "vipkeeper-system"}, servicesOnly...),
			want: func(c *Config) {
				c.VIPs = nil
				c.Services = true
				c.ServicePools = []ipam.PoolSpec{bluePool}
				c.ServicesNamespace = "vipkeeper-system"
			},
		},
		{
			name: "services off: the rate limits are still defaulted",
			args: append([]string{"--services=false", "--services-default-class=false"}, minimal...),
			want: func(c *Config) {},
		},
	})
}

func TestLoadServicesErrors(t *testing.T) {
	pool := func(s string) []string { return []string{"--services-pool", s} }
	withServices := func(args ...string) []string { return append(append([]string{"--services"}, args...), minimal...) }
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		files   map[string]string
		source  string // the flag, variable or field the error must name
		text    string // a fragment of the message
		invalid bool   // the error wraps ipam.ErrInvalidPool
	}{
		{"neither a VIP nor services", []string{"--interface", "eth0"}, nil, nil, "--vip", "at least one --vip is required unless --services is set", false},
		{"services without a pool", []string{"--interface", "eth0", "--services"}, nil, nil, "--services-pool", "at least one pool", false},
		{"pool without services", append(pool("pool=blue;addresses=203.0.113.0/28"), minimal...), nil, nil, "--services-pool", "needs --services", false},
		{"pool without services, env", minimal, map[string]string{"VIPKEEPER_SERVICES_POOL": "pool=blue;addresses=203.0.113.0/28"}, nil, "VIPKEEPER_SERVICES_POOL", "needs --services", false},
		{"default class without services", append([]string{"--services-default-class"}, minimal...), nil, nil, "--services-default-class", "needs --services", false},
		{"pool objects without services", append([]string{"--services-pool-objects"}, minimal...), nil, nil, "--services-pool-objects", "needs --services", false},
		{"pool objects and flag pools", withServices(append(pool("pool=blue;addresses=203.0.113.0/28"), "--services-pool-objects")...), nil, nil, "--services-pool", "cannot be mixed", false},
		{"services namespace without services", append([]string{"--services-namespace", "vipkeeper-system"}, minimal...), nil, nil, "--services-namespace", "needs --services", false},
		{"services namespace invalid", withServices(append(pool("pool=blue;addresses=203.0.113.0/28"), "--services-namespace", "Vipkeeper_System")...), nil, nil, "--services-namespace", "not a valid namespace", false},
		{"pool syntax", withServices(pool("blue;addresses=203.0.113.0/28")...), nil, nil, "--services-pool", "not KEY=VALUE", true},
		{"pool without a name", withServices(pool("addresses=203.0.113.0/28")...), nil, nil, "--services-pool", "missing pool=NAME", true},
		{"pool without addresses", withServices(pool("pool=blue")...), nil, nil, "--services-pool", "missing addresses", true},
		{"pool with an unknown key", withServices(pool("pool=blue;addresses=203.0.113.0/28;color=blue")...), nil, nil, "--services-pool", "unknown key", true},
		{"pool with host bits", withServices(pool("pool=blue;addresses=203.0.113.5/28")...), nil, nil, "--services-pool", "did you mean 203.0.113.0/28", true},
		{"pool reversed range", withServices(pool("pool=blue;addresses=203.0.113.9-203.0.113.1")...), nil, nil, "--services-pool", "reversed", true},
		{"pool bad name", withServices(pool("pool=Blue;addresses=203.0.113.0/28")...), nil, nil, "--services-pool", "bad name", true},
		{"pool bad namespace", withServices(pool("pool=blue;addresses=203.0.113.0/28;namespaces=Team_A")...), nil, nil, "--services-pool", "namespace", true},
		{"pool reserved block", withServices(pool("pool=blue;addresses=169.254.0.0/24")...), nil, nil, "--services-pool", "link-local", true},
		{"pools overlap", withServices(append(pool("pool=blue;addresses=203.0.113.0/28"), pool("pool=red;addresses=203.0.113.8-203.0.113.20")...)...), nil, nil, "--services-pool", "overlaps", true},
		{"pool named twice", withServices(append(pool("pool=blue;addresses=203.0.113.0/28"), pool("pool=blue;addresses=198.51.100.0/28")...)...), nil, nil, "--services-pool", "defined twice", true},
		{"pool holds the VIP", []string{"--interface", "eth0", "--vip", "192.0.2.100", "--services", "--services-pool", "pool=blue;addresses=192.0.2.96/28"}, nil, nil, "--services-pool", "holds the VIP 192.0.2.100", false},
		{"range holds the IPv6 VIP", []string{"--interface", "eth0", "--vip", "2001:db8::100", "--services", "--services-pool", "pool=blue;addresses=2001:db8::1-2001:db8::ffff"}, nil, nil, "--services-pool", "holds the VIP 2001:db8::100", false},
		{"VIP is a pool's network address", []string{"--interface", "eth0", "--vip", "203.0.113.0", "--services", "--services-pool", "pool=blue;addresses=203.0.113.0/28"}, nil, nil, "--services-pool", "holds the VIP 203.0.113.0", false},
		{"bad pool in the environment", []string{"--interface", "eth0", "--services"}, map[string]string{"VIPKEEPER_SERVICES_POOL": "pool=blue;addresses=203.0.113.0/28;pool=red"}, nil, "VIPKEEPER_SERVICES_POOL", "missing addresses", true},
		{"bad pool in the file", []string{"--config", "/c.yaml"}, nil, map[string]string{"/c.yaml": "interface: eth0\nservices: true\nservicesPool: [\"pool=blue;addresses=nope\"]\n"}, "config file /c.yaml: field servicesPool", "neither a CIDR", true},
		{"pools overlap in the file", []string{"--config", "/c.yaml"}, nil, map[string]string{"/c.yaml": "interface: eth0\nservices: true\nservicesPool: [\"pool=a;addresses=203.0.113.0/28\", \"pool=b;addresses=203.0.113.0/29\"]\n"}, "config file /c.yaml: field servicesPool", "overlaps", true},
		{"services not a bool", append([]string{"--services=maybe"}, minimal...), nil, nil, "--services", "true or false", false},
		{"qps zero", withServices(append(pool("pool=blue;addresses=203.0.113.0/28"), "--services-qps", "0")...), nil, nil, "--services-qps", "below the minimum of 1", false},
		{"qps negative", withServices(append(pool("pool=blue;addresses=203.0.113.0/28"), "--services-qps", "-5")...), nil, nil, "--services-qps", "below the minimum of 1", false},
		{"qps not a number", withServices(append(pool("pool=blue;addresses=203.0.113.0/28"), "--services-qps", "fast")...), nil, nil, "--services-qps", "not a number", false},
		{"qps NaN", append([]string{"--services-qps", "NaN"}, minimal...), nil, nil, "--services-qps", "not a number", false},
		{"qps beyond float32", append([]string{"--services-qps", "1e40"}, minimal...), nil, nil, "--services-qps", "not a number", false},
		{"burst zero", withServices(append(pool("pool=blue;addresses=203.0.113.0/28"), "--services-burst", "0")...), nil, nil, "--services-burst", "below the minimum of 1", false},
		{"burst not whole", append([]string{"--services-burst", "1.5"}, minimal...), nil, nil, "--services-burst", "whole number", false},
		{"burst in the environment", minimal, map[string]string{"VIPKEEPER_SERVICES_BURST": "-1"}, nil, "VIPKEEPER_SERVICES_BURST", "below the minimum of 1", false},
		{"yaml map for a pool", []string{"--config", "/c.yaml"}, nil, map[string]string{"/c.yaml": "interface: eth0\nservices: true\nservicesPool: [{name: blue}]\n"}, "config file /c.yaml: field servicesPool", "single value", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(sources(tt.args, tt.env, tt.files))
			checkLoadError(t, err, tt.source, tt.text)
			if got := errors.Is(err, ipam.ErrInvalidPool); got != tt.invalid {
				t.Errorf("errors.Is(err, ipam.ErrInvalidPool) = %v, want %v (error: %v)", got, tt.invalid, err)
			}
		})
	}
}

func TestPoolItems(t *testing.T) {
	tests := []struct {
		name string
		vals []string
		want []string
	}{
		{"none", nil, nil},
		{"blank", []string{"", "  "}, nil},
		{"one per value", []string{"pool=a;addresses=x", "pool=b;addresses=y"}, []string{"pool=a;addresses=x", "pool=b;addresses=y"}},
		{"several in one value", []string{"pool=a;addresses=x,y;pool=b;addresses=z;namespaces=n"}, []string{"pool=a;addresses=x,y", "pool=b;addresses=z;namespaces=n"}},
		{"pool= not first", []string{"addresses=x;pool=a;addresses=y;pool=b;cidr=z"}, []string{"addresses=x;pool=a;addresses=y", "pool=b;cidr=z"}},
		{"spaces around the key", []string{"pool=a;addresses=x; pool = b;addresses=y"}, []string{"pool=a;addresses=x", " pool = b;addresses=y"}},
		{"a key that only starts with pool", []string{"pool=a;pools=b"}, []string{"pool=a;pools=b"}},
		{"pool without =", []string{"pool=a;addresses=x;pool"}, []string{"pool=a;addresses=x;pool"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, poolItems(tt.vals)); diff != "" {
				t.Errorf("poolItems (-want +got):\n%s", diff)
			}
		})
	}
}

// TestServicesRoundTrip: services settings rendered back as flags load
// into the same Config (manifests render them so).
func TestServicesRoundTrip(t *testing.T) {
	c, err := Load(sources([]string{"--interface", "eth0", "--services", "--services-default-class", "--services-qps", "12.5"},
		map[string]string{"VIPKEEPER_SERVICES_POOL": "pool=blue;addresses=203.0.113.0/28;pool=red;addresses=198.51.100.0/28"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	checkArgsRoundTrip(t, c, []string{"--interface=eth0", "--services=true", "--services-default-class=true",
		"--services-pool=pool=blue;addresses=203.0.113.0/28;pool=red;addresses=198.51.100.0/28", "--services-qps=12.5"})
}

// FuzzPoolItems: splitting a value into pools loses and adds nothing, and
// every item but the first starts with its pool= field.
func FuzzPoolItems(f *testing.F) {
	f.Add("pool=a;addresses=192.0.2.0/28;pool=b;addresses=2001:db8::/120")
	f.Add("addresses=x;pool=a;;pool=b")
	f.Add(" ; ;pool")
	f.Add("pool=a;pool=b;pool=c")
	f.Add("pool=a;addresses=x;pool;")
	f.Fuzz(func(t *testing.T, v string) {
		items := poolItems([]string{v})
		if strings.TrimSpace(v) == "" {
			if len(items) != 0 {
				t.Fatalf("poolItems(%q) = %q, want nothing", v, items)
			}
			return
		}
		if got := strings.Join(items, ";"); got != v {
			t.Fatalf("poolItems(%q) joined = %q", v, got)
		}
		for i, it := range items[1:] {
			if key, _, ok := strings.Cut(it, "="); !ok || strings.TrimSpace(key) != "pool" {
				t.Fatalf("item %d %q does not start with pool=", i+1, it)
			}
		}
		for _, it := range items {
			_, _ = ipam.ParsePool(it) // must not panic
		}
	})
}

// TestServicesLeaseNamespace: unset, the services Leases stay in the lease
// namespace, where they were before --services-namespace existed.
func TestServicesLeaseNamespace(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{servicesOnly, "kube-system"},
		{append([]string{"--lease-namespace", "vk"}, servicesOnly...), "vk"},
		{append([]string{"--services-namespace", "vipkeeper-system"}, servicesOnly...), "vipkeeper-system"},
	} {
		c, err := Load(sources(tt.args, nil, nil))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.ServicesLeaseNamespace(); got != tt.want {
			t.Errorf("%v: ServicesLeaseNamespace() = %q, want %q", tt.args, got, tt.want)
		}
	}
}

// TestLoadServicePoolObjects: with pool objects, --services needs no flag
// pool.
func TestLoadServicePoolObjects(t *testing.T) {
	c, err := Load(sources([]string{"--interface", "eth0", "--services", "--services-pool-objects"}, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.ServicePoolObjects || len(c.ServicePools) != 0 {
		t.Errorf("ServicePoolObjects %v, ServicePools %v; want true and none", c.ServicePoolObjects, c.ServicePools)
	}
}
