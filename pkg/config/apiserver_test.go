package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAPIServers(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"none", minimal, nil, nil},
		{"repeated, in order", append([]string{"--api-server", "https://127.0.0.1:6443", "--api-server", "https://192.0.2.12:6443/"}, minimal...), nil,
			[]string{"https://127.0.0.1:6443", "https://192.0.2.12:6443"}},
		{"comma-separated in the environment", minimal, map[string]string{"VIPKEEPER_API_SERVER": "https://127.0.0.1:6443, https://[2001:db8::12]:6443"},
			[]string{"https://127.0.0.1:6443", "https://[2001:db8::12]:6443"}},
		{"a name", append([]string{"--api-server", "https://cp1.example.com"}, minimal...), nil, []string{"https://cp1.example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(sources(tt.args, tt.env, nil))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, c.APIServers); diff != "" {
				t.Errorf("APIServers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAPIServerErrors(t *testing.T) {
	tests := []struct {
		name, server, text string
		isVIP              bool
	}{
		{"the IPv4 VIP", "https://192.0.2.100:6443", "kube-vip#684", true},
		{"the VIP without a port", "https://192.0.2.100", "kube-vip#684", true},
		{"the IPv6 VIP", "https://[2001:db8::100]:6443", "kube-vip#684", true},
		{"plain http", "http://127.0.0.1:6443", "https://", false},
		{"no scheme", "127.0.0.1:6443", "", false},
		{"a path", "https://127.0.0.1:6443/api", "only https://host", false},
		{"credentials", "https://u:p@127.0.0.1:6443", "only https://host", false},
		{"twice", "https://127.0.0.1:6443,https://127.0.0.1:6443", "twice", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"--api-server", tt.server, "--vip", "192.0.2.100", "--vip", "2001:db8::100", "--interface", "eth0"}
			_, err := Load(sources(args, nil, nil))
			var ce *Error
			if !errors.As(err, &ce) || ce.Source != "--api-server" {
				t.Fatalf("Load error = %v, want a *config.Error from --api-server", err)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q does not contain %q", err, tt.text)
			}
			if got := errors.Is(err, ErrAPIServerIsVIP); got != tt.isVIP {
				t.Errorf("errors.Is(err, ErrAPIServerIsVIP) = %v, want %v", got, tt.isVIP)
			}
		})
	}
}

func TestServerIsVIP(t *testing.T) {
	c, err := Load(sources(minimal, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	for server, want := range map[string]bool{
		"https://192.0.2.100:6443":          true,
		"https://192.0.2.100":               true,
		"https://127.0.0.1:6443":            false,
		"https://cp.example.com":            false,
		"https://198.51.100.1:443":          false,
		"https://[::ffff:192.0.2.100]:6443": true,
	} {
		if got := c.ServerIsVIP(server); got != want {
			t.Errorf("ServerIsVIP(%q) = %v, want %v", server, got, want)
		}
	}
}

// TestSettingsRoundTrip: the non-default settings, rendered back as flags,
// load into the same Config, wherever they first came from.
func TestSettingsRoundTrip(t *testing.T) {
	file := "vip: [192.0.2.100, 2001:db8::100]\ninterface: eth0\nleaseDuration: 6s\nhealthHttp: [\"https://127.0.0.1:6443/livez\"]\nhealthInsecureSkipVerify: true\n"
	c, err := Load(sources([]string{"--config", "/c.yaml", "--api-server", "https://127.0.0.1:6443", "--lease-name", "vipkeeper"},
		map[string]string{"VIPKEEPER_LOG_LEVEL": "debug"}, map[string]string{"/c.yaml": file}))
	if err != nil {
		t.Fatal(err)
	}
	checkArgsRoundTrip(t, c, []string{"--api-server=https://127.0.0.1:6443", "--vip=192.0.2.100", "--vip=2001:db8::100", "--interface=eth0",
		"--lease-duration=6s", "--health-http=https://127.0.0.1:6443/livez", "--health-insecure-skip-verify=true", "--log-level=debug"})
	if v, ok := c.Value("lease-namespace"); !ok || v != "kube-system" {
		t.Errorf("Value(lease-namespace) = %q, %v; want the default", v, ok)
	}
	if _, ok := c.Value("no-such-option"); ok {
		t.Error("Value of an unknown option is ok")
	}
}
