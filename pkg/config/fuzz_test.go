package config

import (
	"errors"
	"strings"
	"testing"
	"unicode"
)

// FuzzLoad runs the whole Load path — flags, environment and file — and
// checks that it returns either a valid Config or a *Error, one line of
// printable text, never both and never a panic.
//
// Run: go test ./pkg/config -run '^$' -fuzz FuzzLoad -fuzztime 60s
func FuzzLoad(f *testing.F) {
	seeds := []struct{ args, env, file string }{
		{"--vip\x00192.0.2.100\x00--interface\x00eth0", "", ""},
		{"--config\x00/f", "VIPKEEPER_LEASE_DURATION=8s", "vip: [192.0.2.100, 2001:db8::100]\ninterface: eth0\n"},
		{"--config\x00/f\x00--announce-refresh=1ns", "", "vip: [192.0.2.100]\ninterface: eth0\n"},
		{"--interface\x00eth0\x00--services", "VIPKEEPER_SERVICES_POOL=pool=a;addresses=192.0.2.0/28;pool=b;addresses=2001:db8::/120", ""},
		{"--vip=192.0.2.100", "VIPKEEPER_INTERFACE=eth0\x00VIPKEEPER_SERVICE_HOST=198.51.100.10\x00VIPKEEPER_LEASE_DURATON=1s", ""},
		{"--config\x00/f", "", "nodeName: no\nvip: [192.0.2.100]\ninterface: eth0\nleaseName: a\nleaseName: b\n"},
		{"--config\x00/f", "", "a: &x 1\nb: *x\n---\nc: 2\n"},
		{"--api-server\x00https://u:p@127.0.0.1:0\x00--vip\x00192.0.2.1\x00--interface\x00lo", "", ""},
		{"--node-name\x00\x00--vip\x00::192.0.2.1\x00--interface\x00eth0", "VIPKEEPER_NODE_NAME=", ""},
		{"--health-http\x00https://127.0.0.1:6443/livez\x00--health-ca-file\x00/ca\x00--vip\x00192.0.2.1\x00--interface\x00eth0", "", ""},
		{"--api-server\x00https://127.0.0.1:6443\x00--api-server-check\x00--vip\x00192.0.2.1\x00--interface\x00eth0", "VIPKEEPER_API_SERVER_CHECK_FALL=3", "apiServerCheckInterval: 300ms\n"},
	}
	for _, s := range seeds {
		f.Add(s.args, s.env, []byte(s.file))
	}
	f.Fuzz(func(t *testing.T, args, env string, file []byte) {
		var argv, environ []string
		if args != "" {
			argv = strings.Split(args, "\x00")
		}
		envMap := map[string]string{}
		if env != "" {
			for _, kv := range strings.Split(env, "\x00") {
				k, v, _ := strings.Cut(kv, "=")
				envMap[k] = v
				environ = append(environ, kv)
			}
		}
		src := sources(argv, envMap, map[string]string{"/f": string(file)})
		src.Environ = func() []string { return environ }
		c, err := Load(src)
		if errors.Is(err, ErrHelp) {
			return
		}
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Load error is not a *config.Error: %v", err)
			}
			if c != nil {
				t.Fatal("Load returned a Config with its error")
			}
			if msg := err.Error(); strings.IndexFunc(msg, unicode.IsControl) >= 0 {
				t.Fatalf("the error is not one line of printable text: %q", msg)
			}
			return
		}
		if err := c.validate(); err != nil {
			t.Fatalf("Load returned an invalid config: %v", err)
		}
		if err := CheckNodeName(c.NodeName); err != nil {
			t.Fatalf("Load returned a bad node name %q: %v", c.NodeName, err)
		}
		// Rendered back as flags, the settings load into the same Config.
		if _, err := Load(sources(Args(c.Settings()), nil, nil)); err != nil {
			t.Fatalf("the rendered settings %q do not load: %v", Args(c.Settings()), err)
		}
	})
}
