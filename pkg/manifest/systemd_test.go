package manifest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vipkeeper/vipkeeper/pkg/config"
	"github.com/vipkeeper/vipkeeper/pkg/manifest"
)

func TestSystemd(t *testing.T) {
	unit := string(generate(t, manifest.Systemd, load(t, "--kubeconfig", "/etc/vipkeeper/kubeconfig", "--lease-duration", "8s", "--renew-deadline", "4500ms")))
	for _, line := range []string{
		"Type=notify", "NotifyAccess=main", "WatchdogSec=8s", "TimeoutStopSec=10500ms",
		"ExecStart=/usr/local/bin/vipkeeper run --config /etc/vipkeeper/config.yaml",
		"EnvironmentFile=-/etc/vipkeeper/vipkeeper.env",
		"LoadCredential=kubeconfig:/etc/vipkeeper/kubeconfig", "Environment=VIPKEEPER_KUBECONFIG=%d/kubeconfig",
		"AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW", "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
		"Restart=always", "RestartSec=2s", "DynamicUser=yes",
	} {
		if !slices.Contains(strings.Split(unit, "\n"), line) {
			t.Errorf("unit lacks %q", line)
		}
	}
}

// unitVariant is one way to render the unit: run flags and options.
type unitVariant struct {
	name string
	args []string
	o    manifest.Options
	line string // a line the unit must hold
}

func unitVariants(bin, conf string) []unitVariant {
	return []unitVariant{
		{"the example", []string{"--kubeconfig", "/etc/vipkeeper/kubeconfig"}, manifest.Options{}, "LoadCredential=kubeconfig:/etc/vipkeeper/kubeconfig"},
		{"millisecond timings", []string{"--kubeconfig", "/etc/vipkeeper/kubeconfig", "--lease-duration", "3500ms", "--renew-deadline", "1500ms", "--retry-period", "500ms", "--safety-margin", "200ms"},
			manifest.Options{}, "TimeoutStopSec=7500ms"},
		{"a % in the kubeconfig path is escaped, not a specifier", []string{"--kubeconfig", "/etc/vipkeeper/%Z-100%.conf"}, manifest.Options{},
			"LoadCredential=kubeconfig:/etc/vipkeeper/%%Z-100%%.conf"},
		{"a header with quotes, semicolons and a trailing backslash in an argument",
			[]string{"--kubeconfig", "/etc/vipkeeper/kubeconfig", "--services", "--services-pool", `pool=a;addresses=203.0.113.0/24`, "--health-http", "https://192.0.2.1:6443/readyz", "--health-ca-file", `/etc/pki/it's\`},
			manifest.Options{Command: `vipkeeper manifest systemd '--services-pool=pool=a;addresses=203.0.113.0/24' '--health-ca-file=/etc/pki/it'\''s\'`}, ""},
		{"binary and config elsewhere", []string{"--kubeconfig", "/etc/vipkeeper/kubeconfig"}, manifest.Options{Binary: bin, ConfigFile: conf},
			"ExecStart=" + bin + " run --config " + conf},
	}
}

// TestSystemdVerify runs `systemd-analyze verify` on every unit variant:
// systemd itself reads each without a complaint (an unknown specifier, a
// relative path, a line it cannot parse).
func TestSystemdVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (apt-get install systemd): the units are not verified by systemd")
	}
	dir := t.TempDir()
	// verify checks that ExecStart's binary exists and is executable.
	bin := filepath.Join(dir, "vipkeeper")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, v := range unitVariants(bin, filepath.Join(dir, "config.yaml")) {
		t.Run(v.name, func(t *testing.T) {
			if v.o.Binary == "" {
				v.o.Binary = bin
			}
			out, err := manifest.Generate(manifest.Systemd, load(t, v.args...), v.o)
			if err != nil {
				t.Fatal(err)
			}
			if v.line != "" && !slices.Contains(strings.Split(string(out), "\n"), v.line) {
				t.Errorf("unit lacks %q:\n%s", v.line, out)
			}
			path := filepath.Join(t.TempDir(), "vipkeeper.service")
			if err := os.WriteFile(path, out, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(analyze, "verify", path)
			cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=notice")
			got, err := cmd.CombinedOutput()
			if err != nil || len(strings.TrimSpace(string(got))) > 0 {
				t.Errorf("systemd-analyze verify: %v\n%s\nunit:\n%s", err, got, out)
			}
		})
	}
}

// TestConfigFileRoundTrip: the config file the unit reads loads into the
// Config it was rendered from (the kubeconfig comes from the unit), also
// for values YAML would otherwise read as something else.
func TestConfigFileRoundTrip(t *testing.T) {
	for _, args := range [][]string{
		{"--api-server", "https://192.0.2.11:6443",
			"--health-http", "https://127.0.0.1:6443/readyz,status=200-299", "--health-insecure-skip-verify", "--lease-duration", "6s",
			"--services", "--services-pool", "pool=default;addresses=203.0.113.0/24", "--services-pool", "pool=v6;addresses=2001:db8:1::/120;namespaces=web",
			"--services-qps", "20"},
		{"--node-name", "no", "--health-http", "https://192.0.2.1:6443/readyz", "--health-ca-file", `/etc/pki/a "quoted" #not-a-comment: {x} [y] & *z ! ü.crt`},
		{"--node-name", "012345", "--lease-name", "true", "--health-http", "https://192.0.2.1:6443/readyz", "--health-ca-file", "/etc/pki/'single' % - ~.crt"},
	} {
		cfg := load(t, append([]string{"--kubeconfig", "/etc/vipkeeper/kubeconfig"}, args...)...)
		out := generate(t, manifest.Config, cfg)
		again, err := config.Load(config.Sources{
			Args:      []string{"--config", "/etc/vipkeeper/config.yaml", "--kubeconfig", "/etc/vipkeeper/kubeconfig"},
			LookupEnv: func(string) (string, bool) { return "", false },
			ReadFile:  func(string) ([]byte, error) { return out, nil },
			Hostname:  func() (string, error) { return "node", nil },
		})
		if err != nil {
			t.Fatalf("the config file does not load: %v\n%s", err, out)
		}
		if diff := cmp.Diff(config.Args(cfg.Settings()), config.Args(again.Settings())); diff != "" {
			t.Errorf("settings after the round trip (-want +got):\n%s\n%s", diff, out)
		}
	}
}
