package config

import (
	"testing"

	"github.com/vipkeeper/vipkeeper/pkg/services"
)

func TestMisspelledVariables(t *testing.T) {
	for _, tt := range []struct {
		env  string
		want string // the setting suggested; "" when the variable is fine
	}{
		{"VIPKEEPER_LEASE_DURATON", "VIPKEEPER_LEASE_DURATION"},
		{"VIPKEEPER_LEASE_DURATIONS", "VIPKEEPER_LEASE_DURATION"},
		{"VIPKEEPER_RENEW_DEADLIEN", "VIPKEEPER_RENEW_DEADLINE"}, // swapped letters
		{"VIPKEEPER_VIPS", "VIPKEEPER_VIP"},
		{"VIPKEEPER_INTERFACES", "VIPKEEPER_INTERFACE"},
		{"vipkeeper_vip", "VIPKEEPER_VIP"},
		{"VIPKEEPER_LEASE-DURATION", "VIPKEEPER_LEASE_DURATION"},
		{"VIPKEEPER_CONFIGS", "VIPKEEPER_CONFIG"},
		{"VIPKEEPER_SERVICE_POOL", "VIPKEEPER_SERVICES_POOL"},
		// Kubernetes service links, for Services vipkeeper and
		// vipkeeper-<x>: never errors.
		{"VIPKEEPER_SERVICE_HOST", ""},
		{"VIPKEEPER_SERVICE_PORT", ""},
		{"VIPKEEPER_SERVICE_PORT_METRICS", ""},
		{"VIPKEEPER_PORT", ""},
		{"VIPKEEPER_PORT_9479_TCP", ""},
		{"VIPKEEPER_PORT_9479_TCP_PROTO", ""},
		{"VIPKEEPER_PORT_9479_TCP_ADDR", ""},
		{"VIPKEEPER_METRICS_SERVICE_HOST", ""},
		{"VIPKEEPER_METRICS_SERVICE_PORT_HTTP", ""},
		{"VIPKEEPER_METRICS_PORT_443_TCP_PORT", ""},
		{"VIPKEEPER_METRICS_PORT", ""},
		{"VIPKEEPER_SERVICES_PORT", ""}, // a Service named vipkeeper-services
		// Other tools' variables, far from every setting.
		{"VIPKEEPER_BIN", ""},
		{"VIPKEEPER_BENCH", ""},
		{"VIPKEEPER_BENCH_RUNS", ""},
		{"VIPKEEPER_SCALE_SERVICES", ""},
		{"VIPKEEPER_E2E_STRICT", ""},
		{"VIPKEEPER_LAB_NODE", ""},
		{"VIPKEEPER_DEMO", ""},
		{"VIPKEEPER_CACHE", ""},
		{"OTHER_LEASE_DURATON", ""},
	} {
		t.Run(tt.env, func(t *testing.T) {
			src := sources(minimal, nil, nil)
			src.Environ = func() []string { return []string{"PATH=/bin", tt.env + "=x"} }
			c, err := Load(src)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if c != nil {
				t.Error("Load returned a Config with its error")
			}
			checkLoadError(t, err, tt.env, "is not a setting; did you mean "+tt.want+"?")
		})
	}
}

// TestHiddenEnvironment: a caller that hides the environment (manifest
// rendering) hides it from the misspelling check too.
func TestHiddenEnvironment(t *testing.T) {
	t.Setenv("VIPKEEPER_LEASE_DURATON", "5s")
	if _, err := Load(Sources{Args: minimal, LookupEnv: func(string) (string, bool) { return "", false },
		Hostname: func() (string, error) { return "host-a", nil }}); err != nil {
		t.Errorf("Load with the environment hidden: %v", err)
	}
	if _, err := Load(Sources{Args: minimal, Hostname: func() (string, error) { return "host-a", nil }}); err == nil {
		t.Error("Load with the process's environment accepted VIPKEEPER_LEASE_DURATON")
	}
}

func TestNodeName(t *testing.T) {
	runLoadCases(t, []loadCase{
		{name: "the hostname, lowercased as kubelet does", args: minimal, want: func(c *Config) { c.NodeName = "host-a" }},
		{name: "the longest name that fits the node Lease", args: append([]string{"--node-name", longName(238)}, minimal...),
			want: func(c *Config) { c.NodeName = longName(238) }},
	})
	src := sources(minimal, nil, nil)
	src.Hostname = func() (string, error) { return "Host-A.Example", nil }
	if c, err := Load(src); err != nil || c.NodeName != "host-a.example" {
		t.Errorf("hostname Host-A.Example: %v, %v", c, err)
	}
	src.Hostname = func() (string, error) { return "host_a", nil }
	_, err := Load(src)
	checkLoadError(t, err, "hostname", `"host_a" is not a valid node name`)
	checkLoadError(t, err, "hostname", "set --node-name")

	_, err = Load(sources(minimal, map[string]string{"VIPKEEPER_NODE_NAME": ""}, nil))
	checkLoadError(t, err, "VIPKEEPER_NODE_NAME", "must not be empty")

	if nodeLeasePrefix != services.NodeLeasePrefix {
		t.Errorf("nodeLeasePrefix %q, services.NodeLeasePrefix %q", nodeLeasePrefix, services.NodeLeasePrefix)
	}
}

// longName is a valid DNS-1123 subdomain of n characters.
func longName(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a'
		if i%60 == 59 && i != n-1 {
			b[i] = '.'
		}
	}
	return string(b)
}
