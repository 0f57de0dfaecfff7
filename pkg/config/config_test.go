package config

import (
	"errors"
	"flag"
	"io/fs"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/vipkeeper/vipkeeper/pkg/health"
)

func sources(args []string, env map[string]string, files map[string]string) Sources {
	return Sources{
		Args: args,
		LookupEnv: func(k string) (string, bool) {
			v, ok := env[k]
			return v, ok
		},
		ReadFile: func(p string) ([]byte, error) {
			if s, ok := files[p]; ok {
				return []byte(s), nil
			}
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		},
		Hostname: func() (string, error) { return "host-a", nil },
	}
}

var minimal = []string{"--vip", "192.0.2.100", "--interface", "eth0"}

func defaults() *Config {
	return &Config{
		NodeName:          "host-a",
		VIPs:              []netip.Addr{netip.MustParseAddr("192.0.2.100")},
		Interface:         "eth0",
		LeaseName:         "vipkeeper",
		LeaseNamespace:    "kube-system",
		LeaseDuration:     5 * time.Second,
		RenewDeadline:     3 * time.Second,
		RetryPeriod:       time.Second,
		SafetyMargin:      500 * time.Millisecond,
		APIOutage:         "hold",
		TakeoverProbe:     30 * time.Millisecond,
		AnnounceRefresh:   10 * time.Second,
		ReconcileInterval: 10 * time.Second,
		LogLevel:          "info",
		LogFormat:         "text",
		MetricsAddr:       "127.0.0.1:9479",
		ServicesQPS:       100,
		ServicesBurst:     300,
		Health:            health.Config{Interval: time.Second, Timeout: 500 * time.Millisecond, Rise: 2, Fall: 2, Interface: "eth0"},
		APIServerCheck:    APIServerCheck{Interval: 500 * time.Millisecond, Timeout: 400 * time.Millisecond, Rise: 2, Fall: 2},
	}
}

var cmpConfig = []cmp.Option{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmpopts.IgnoreUnexported(Config{}),
	cmpopts.IgnoreFields(health.Config{}, "Observe"),
}

// loadCase is one Load that must succeed: want edits defaults() into the
// Config expected.
type loadCase struct {
	name  string
	args  []string
	env   map[string]string
	files map[string]string
	want  func(c *Config)
}

func runLoadCases(t *testing.T, tests []loadCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(sources(tt.args, tt.env, tt.files))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := defaults()
			tt.want(want)
			if diff := cmp.Diff(want, got, cmpConfig...); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

// checkLoadError: err is one line, a *Error naming source, and says text.
func checkLoadError(t *testing.T, err error, source, text string) {
	t.Helper()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Load error = %v, want a *config.Error", err)
	}
	if ce.Source != source {
		t.Errorf("error source = %q, want %q (error: %v)", ce.Source, source, err)
	}
	if !strings.Contains(err.Error(), text) {
		t.Errorf("error %q does not contain %q", err, text)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error must be one line: %q", err)
	}
}

// checkArgsRoundTrip: c's non-default settings render as want, and those
// flags load back into the same Config.
func checkArgsRoundTrip(t *testing.T, c *Config, want []string) {
	t.Helper()
	got := Args(c.Settings())
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Args (-want +got):\n%s", diff)
	}
	again, err := Load(sources(got, nil, nil))
	if err != nil {
		t.Fatalf("the rendered flags do not load: %v", err)
	}
	if diff := cmp.Diff(c, again, cmpConfig...); diff != "" {
		t.Errorf("round trip (-first +again):\n%s", diff)
	}
}

func TestLoad(t *testing.T) {
	runLoadCases(t, []loadCase{
		{name: "defaults", args: minimal, want: func(*Config) {}},
		{
			name: "issue example",
			args: []string{"--node-name", "n1", "--kubeconfig", "/etc/kubernetes/admin.conf",
				"--vip", "192.0.2.100", "--vip", "2001:db8::100", "--interface", "eth0",
				"--lease-name", "vipkeeper-cp", "--lease-namespace", "kube-system",
				"--lease-duration", "5s", "--renew-deadline", "3s", "--retry-period", "1s"},
			want: func(c *Config) {
				c.NodeName = "n1"
				c.Kubeconfig = "/etc/kubernetes/admin.conf"
				c.VIPs = append(c.VIPs, netip.MustParseAddr("2001:db8::100"))
				c.LeaseName = "vipkeeper-cp"
			},
		},
		{
			name: "milliseconds",
			args: append([]string{"--lease-duration", "1500ms", "--renew-deadline", "1000ms", "--retry-period", "250ms", "--safety-margin", "200ms"}, minimal...),
			want: func(c *Config) {
				c.LeaseDuration = 1500 * time.Millisecond
				c.RenewDeadline = time.Second
				c.RetryPeriod = 250 * time.Millisecond
				c.SafetyMargin = 200 * time.Millisecond
			},
		},
		{
			name: "env only, comma list",
			env: map[string]string{"VIPKEEPER_VIP": "192.0.2.100, 2001:db8::100", "VIPKEEPER_INTERFACE": "eth1",
				"VIPKEEPER_LEASE_DURATION": "8s"},
			want: func(c *Config) {
				c.VIPs = append(c.VIPs, netip.MustParseAddr("2001:db8::100"))
				c.Interface = "eth1"
				c.Health.Interface = "eth1"
				c.LeaseDuration = 8 * time.Second
			},
		},
		{
			name:  "file only",
			args:  []string{"--config", "/c.yaml"},
			files: map[string]string{"/c.yaml": "vip: [192.0.2.100/32]\ninterface: bond0\nleaseName: cp\nannounceRefresh: 0\n"},
			want: func(c *Config) {
				c.Interface = "bond0"
				c.Health.Interface = "bond0"
				c.LeaseName = "cp"
				c.AnnounceRefresh = 0
			},
		},
		{
			name:  "flags beat env beat file beat defaults",
			args:  append([]string{"--lease-name", "from-flag"}, minimal...),
			env:   map[string]string{"VIPKEEPER_CONFIG": "/c.yaml", "VIPKEEPER_LEASE_NAME": "from-env", "VIPKEEPER_LEASE_NAMESPACE": "env-ns"},
			files: map[string]string{"/c.yaml": "leaseName: from-file\nleaseNamespace: file-ns\nlogLevel: debug\n"},
			want: func(c *Config) {
				c.LeaseName = "from-flag"
				c.LeaseNamespace = "env-ns"
				c.LogLevel = "debug"
			},
		},
		{
			name: "health checks",
			args: append([]string{"--health-http", "https://127.0.0.1:6443/livez,status=200-299", "--health-icmp", "192.0.2.1",
				"--health-ca-file", "/ca.pem", "--health-rise", "3", "--health-interval", "2s"}, minimal...),
			env: map[string]string{"VIPKEEPER_HEALTH_ICMP": "198.51.100.1,2001:db8::1"},
			want: func(c *Config) {
				c.Health.Checks = []health.Check{
					{Name: "http-0", Kind: health.KindHTTP, Target: "https://127.0.0.1:6443/livez", StatusMin: 200, StatusMax: 299, CAFile: "/ca.pem"},
					{Name: "icmp-0", Kind: health.KindICMP, Target: "192.0.2.1"},
				}
				c.Health.Rise = 3
				c.Health.Interval = 2 * time.Second
			},
		},
		{
			name: "bare boolean flag",
			args: append([]string{"--health-http", "https://127.0.0.1:6443/livez", "--health-insecure-skip-verify"}, minimal...),
			want: func(c *Config) {
				c.Health.Checks = []health.Check{
					{Name: "http-0", Kind: health.KindHTTP, Target: "https://127.0.0.1:6443/livez", StatusMin: 200, StatusMax: 399, InsecureSkipVerify: true},
				}
			},
		},
		{
			name:  "empty file",
			args:  append([]string{"--config", "/e.yaml"}, minimal...),
			files: map[string]string{"/e.yaml": "# nothing\n"},
			want:  func(*Config) {},
		},
	})
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		files  map[string]string
		source string // the flag, variable or field the error must name
		text   string // a fragment of the message
	}{
		{"no vip", []string{"--interface", "eth0"}, nil, nil, "--vip", "at least one --vip is required unless --services is set"},
		{"network not host", []string{"--vip", "192.0.2.0/24", "--interface", "eth0"}, nil, nil, "--vip", "not a single host"},
		{"garbage vip", []string{"--vip", "nope", "--interface", "eth0"}, nil, nil, "--vip", "not an IP"},
		{"multicast vip", []string{"--vip", "224.0.0.1", "--interface", "eth0"}, nil, nil, "--vip", "unicast"},
		{"link-local vip", []string{"--vip", "fe80::1", "--interface", "eth0"}, nil, nil, "--vip", "unicast"},
		{"two v4", []string{"--vip", "192.0.2.1", "--vip", "192.0.2.2", "--interface", "eth0"}, nil, nil, "--vip", "at most one IPv4"},
		{"dup", []string{"--vip", "192.0.2.1,192.0.2.1", "--interface", "eth0"}, nil, nil, "--vip", "twice"},
		{"bad env vip", []string{"--interface", "eth0"}, map[string]string{"VIPKEEPER_VIP": "x"}, nil, "VIPKEEPER_VIP", "not an IP"},
		{"missing interface", []string{"--vip", "192.0.2.1"}, nil, nil, "--interface", "required"},
		{"bad interface", []string{"--vip", "192.0.2.1", "--interface", "a/b"}, nil, nil, "--interface", "not a valid"},
		{"renew + margin >= lease", append([]string{"--lease-duration", "4s", "--renew-deadline", "3600ms"}, minimal...), nil, nil, "--renew-deadline", "safety-margin"},
		{"tiny margin", append([]string{"--safety-margin", "10ms"}, minimal...), nil, nil, "--safety-margin", "between"},
		{"bad outage policy", append([]string{"--api-outage", "maybe"}, minimal...), nil, nil, "--api-outage", "hold, release"},
		{"long probe", append([]string{"--takeover-probe", "2s"}, minimal...), nil, nil, "--takeover-probe", "half"},
		{"bad health url", append([]string{"--health-http", "ftp://x/"}, minimal...), nil, nil, "--health-http", ""},
		{"bad health ip", append([]string{"--health-icmp", "nope"}, minimal...), nil, nil, "--health-icmp", ""},
		{"health timeout >= interval", append([]string{"--health-timeout", "2s"}, minimal...), nil, nil, "--health-timeout", ""},
		{"health rise zero", append([]string{"--health-rise", "0"}, minimal...), nil, nil, "--health-rise", ""},
		{"health rise not a number", append([]string{"--health-rise", "two"}, minimal...), nil, nil, "--health-rise", "whole number"},
		{"bad bool", append([]string{"--health-insecure-skip-verify=maybe"}, minimal...), nil, nil, "--health-insecure-skip-verify", "true or false"},
		{"lease <= renew", append([]string{"--lease-duration", "3s"}, minimal...), nil, nil, "--lease-duration", "--renew-deadline 3s must be less than --lease-duration 3s"},
		{"renew <= 1.2 retry", append([]string{"--renew-deadline", "1200ms"}, minimal...), nil, nil, "--renew-deadline", "1.2"},
		{"lease under 1s", append([]string{"--lease-duration", "900ms", "--renew-deadline", "600ms", "--retry-period", "100ms"}, minimal...), nil, nil, "--lease-duration", "whole seconds"},
		{"sub-ms", append([]string{"--renew-deadline", "2500500us"}, minimal...), nil, nil, "--renew-deadline", "millisecond"},
		{"zero retry", append([]string{"--retry-period", "0"}, minimal...), nil, nil, "--retry-period", "0s is below the minimum of 200ms"},
		{"no unit", append([]string{"--lease-duration", "5"}, minimal...), nil, nil, "--lease-duration", "no unit"},
		{"negative", append([]string{"--announce-refresh", "-1s"}, minimal...), nil, nil, "--announce-refresh", "negative"},
		{"env duration", minimal, map[string]string{"VIPKEEPER_RETRY_PERIOD": "soon"}, nil, "VIPKEEPER_RETRY_PERIOD", "not a duration"},
		{"unknown flag", append([]string{"--lease-durration", "5s"}, minimal...), nil, nil, "command line", "unknown flag"},
		{"stray arg", append([]string{"extra"}, minimal...), nil, nil, "command line", "unexpected argument"},
		{"bad lease name", append([]string{"--lease-name", "Not_Valid"}, minimal...), nil, nil, "--lease-name", "not a valid"},
		{"bad log level", append([]string{"--log-level", "loud"}, minimal...), nil, nil, "--log-level", "debug, info"},
		{"unreadable file", append([]string{"--config", "/missing.yaml"}, minimal...), nil, nil, "--config", "cannot read"},
		{"unknown yaml field", append([]string{"--config", "/c.yaml"}, minimal...), nil, map[string]string{"/c.yaml": "leaseDurration: 5s\n"}, "config file /c.yaml", `unknown field "leaseDurration"`},
		{"yaml list for scalar", append([]string{"--config", "/c.yaml"}, minimal...), nil, map[string]string{"/c.yaml": "interface: [a, b]\n"}, "config file /c.yaml: field interface", "not a list"},
		{"yaml not a map", append([]string{"--config", "/c.yaml"}, minimal...), nil, map[string]string{"/c.yaml": "- a\n"}, "config file /c.yaml", "mapping"},
		{"yaml bad value names field", append([]string{"--config", "/c.yaml"}, "--interface", "eth0"), nil, map[string]string{"/c.yaml": "vip: 192.0.2.0/24\n"}, "config file /c.yaml: field vip", "not a single host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(sources(tt.args, tt.env, tt.files))
			checkLoadError(t, err, tt.source, tt.text)
		})
	}
}

func TestHelp(t *testing.T) {
	if _, err := Load(sources([]string{"--help"}, nil, nil)); !errors.Is(err, ErrHelp) {
		t.Fatalf("Load(--help) = %v, want ErrHelp", err)
	}
}

func TestNames(t *testing.T) {
	for _, tt := range []struct{ flag, env, key string }{
		{"lease-duration", "VIPKEEPER_LEASE_DURATION", "leaseDuration"},
		{"vip", "VIPKEEPER_VIP", "vip"},
		{"announce-refresh", "VIPKEEPER_ANNOUNCE_REFRESH", "announceRefresh"},
	} {
		if got := EnvVar(tt.flag); got != tt.env {
			t.Errorf("EnvVar(%q) = %q, want %q", tt.flag, got, tt.env)
		}
		if got := YAMLKey(tt.flag); got != tt.key {
			t.Errorf("YAMLKey(%q) = %q, want %q", tt.flag, got, tt.key)
		}
	}
}

// TestReadmeReference keeps the README's configuration reference and
// bounds table identical to the code. Regenerate with `make docs`
// (go test ./pkg/config -run TestReadmeReference -update).
func TestReadmeReference(t *testing.T) {
	const path = "../../README.md"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read README: %v", err)
	}
	s := string(data)
	for _, block := range []struct{ marker, want string }{
		{"config-reference", Reference()},
		{"config-bounds", Bounds()},
	} {
		begin, end := "<!-- "+block.marker+":begin -->\n", "<!-- "+block.marker+":end -->"
		i, j := strings.Index(s, begin), strings.Index(s, end)
		if i < 0 || j < i {
			t.Fatalf("README.md lacks the %q … %q markers", strings.TrimSpace(begin), end)
		}
		if have := s[i+len(begin) : j]; have != block.want {
			if !*update {
				t.Errorf("README %s is stale; run `make docs`:\n%s", block.marker, cmp.Diff(block.want, have))
			}
			s = s[:i+len(begin)] + block.want + s[j:]
		}
	}
	if *update && s != string(data) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func FuzzParseFile(f *testing.F) {
	f.Add([]byte("vip: [192.0.2.100, 2001:db8::1]\ninterface: eth0\nleaseDuration: 5s\n"))
	f.Add([]byte("leaseDuration: 5\n"))
	f.Add([]byte("{}"))
	f.Add([]byte("- x"))
	f.Add([]byte("vip: {a: b}"))
	f.Add([]byte("renewDeadline: 3s\nretryPeriod: 1500ms\nlogLevel: null\n"))
	f.Add([]byte("interface: eth0\nservices: true\nservicesPool: [\"pool=a;addresses=192.0.2.0/28\", \"pool=b;addresses=2001:db8::10-2001:db8::1f;namespaces=x\"]\nservicesQps: 50.5\nservicesBurst: 10\n"))
	f.Add([]byte("interface: eth0\nservices: yes\nservicesPool: []\nservicesDefaultClass: true\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		vals, err := parseFile(data)
		if err != nil {
			return
		}
		for name, v := range vals {
			if _, ok := lookupOption(name); !ok {
				t.Fatalf("parseFile returned unknown option %q", name)
			}
			if o, _ := lookupOption(name); len(v) == 0 && !o.list {
				t.Fatalf("option %q has no value", name)
			}
		}
		// The whole pipeline must not panic and must either return a
		// config that passes validation or a *config.Error.
		c, err := Load(sources([]string{"--config", "/f"}, nil, map[string]string{"/f": string(data)}))
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Load error is not a *config.Error: %v", err)
			}
			return
		}
		if err := c.validate(); err != nil {
			t.Fatalf("Load returned an invalid config: %v", err)
		}
	})
}

var update = flag.Bool("update", false, "rewrite README.md's configuration reference")
