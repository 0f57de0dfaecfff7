package config

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// badInput is one bad value of one setting. Each is tried three ways: as
// a flag, as its VIPKEEPER_* variable and as its config-file field, and
// the error must name that very source.
type badInput struct {
	rule  string   // the rule the value breaks
	name  string   // the setting (flag name)
	value string   // the bad value
	extra []string // other flags the case needs
	text  string   // a fragment of the message
}

// badInputs lists the bad inputs per rule.
var badInputs = []badInput{
	// Bounds (bounds.go).
	{"bounds", "announce-refresh", "1ns", nil, "1ns is below the minimum of 1s (0 turns it off): each refresh sends a gratuitous ARP/NA"},
	{"bounds", "announce-refresh", "2h", nil, "2h is above the maximum of 1h"},
	{"bounds", "reconcile-interval", "1ns", nil, "1ns is below the minimum of 1s"},
	{"bounds", "reconcile-interval", "0", nil, "0s is below the minimum of 1s"},
	{"bounds", "reconcile-interval", "11m", nil, "above the maximum of 10m"},
	{"bounds", "health-interval", "1ns", nil, "1ns is below the minimum of 100ms"},
	{"bounds", "health-interval", "2m", nil, "above the maximum of 1m"},
	{"bounds", "health-timeout", "1ms", nil, "1ms is below the minimum of 10ms"},
	{"bounds", "renew-deadline", "1ms", nil, "1ms is below the minimum of 500ms"},
	{"bounds", "lease-duration", "1000000h", nil, "1000000h is above the maximum of 10m"},
	{"bounds", "lease-duration", "11m", nil, "above the maximum of 10m"},
	{"bounds", "lease-duration", "900ms", []string{"--renew-deadline", "600ms", "--retry-period", "200ms", "--safety-margin", "100ms"}, "whole seconds"},
	{"bounds", "retry-period", "1ms", nil, "1ms is below the minimum of 200ms"},
	{"bounds", "retry-period", "0", nil, "0s is below the minimum of 200ms"},
	{"bounds", "safety-margin", "10ms", nil, "10ms is below the minimum of 100ms"},
	{"bounds", "takeover-probe", "1ns", nil, "1ns is below the minimum of 10ms (0 turns it off)"},
	{"bounds", "health-rise", "0", nil, "0 is below the minimum of 1"},
	{"bounds", "health-rise", "101", nil, "101 is above the maximum of 100"},
	{"bounds", "health-fall", "1000", nil, "1000 is above the maximum of 100"},
	{"bounds", "services-qps", "0.5", nil, "0.5 is below the minimum of 1"},
	{"bounds", "services-qps", "5000", nil, "5000 is above the maximum of 1000"},
	{"bounds", "services-burst", "0", nil, "0 is below the minimum of 1"},
	{"bounds", "services-burst", "20000", nil, "20000 is above the maximum of 10000"},
	{"bounds", "api-server-check-interval", "50ms", nil, "50ms is below the minimum of 100ms: each check is a TLS handshake"},
	{"bounds", "api-server-check-interval", "11s", nil, "11s is above the maximum of 10s"},
	{"bounds", "api-server-check-timeout", "1ms", nil, "1ms is below the minimum of 10ms"},
	{"bounds", "api-server-check-rise", "0", nil, "0 is below the minimum of 1"},
	{"bounds", "api-server-check-fall", "101", nil, "101 is above the maximum of 100"},
	{"bounds", "lease-duration", "5", nil, "has no unit"},
	{"bounds", "announce-refresh", "-1s", nil, "negative"},
	{"bounds", "renew-deadline", "2500500us", nil, "finer than a millisecond"},

	// Ports and schemes.
	{"ports", "api-server", "https://127.0.0.1:0", nil, `port "0" is not a number from 1 to 65535`},
	{"ports", "api-server", "https://127.0.0.1:99999", nil, `port "99999"`},
	{"ports", "api-server", "https://127.0.0.1:", nil, `port ""`},
	{"ports", "metrics-addr", "127.0.0.1:0", nil, `port "0" is not a number from 1 to 65535`},
	{"ports", "metrics-addr", ":70000", nil, `port "70000"`},
	{"ports", "health-http", "https://127.0.0.1:99999/livez", nil, `port "99999" is not 1-65535`},
	{"https", "api-server", "http://127.0.0.1:6443", nil, "want an https:// URL"},
	{"https", "api-server", "ftp://127.0.0.1", nil, "want an https:// URL"},

	// Secrets in URLs never reach a message.
	{"redaction", "api-server", "https://admin:s3cret@127.0.0.1:6443", nil, "https://REDACTED@127.0.0.1:6443"},
	{"redaction", "api-server", "http://admin:s3cret@127.0.0.1:6443", nil, "http://REDACTED@127.0.0.1:6443"},
	{"redaction", "health-http", "https://admin:s3cret@127.0.0.1:0/", nil, "REDACTED"},

	// Addresses that can never be a VIP.
	{"vip", "vip", "0.0.0.0", nil, `"this network" block 0.0.0.0/8`},
	{"vip", "vip", "0.1.2.3", nil, `"this network" block 0.0.0.0/8`},
	{"vip", "vip", "240.0.0.1", nil, "reserved (and broadcast) block 240.0.0.0/4"},
	{"vip", "vip", "255.255.255.255", nil, "240.0.0.0/4"},
	{"vip", "vip", "127.0.0.1", nil, "loopback"},
	{"vip", "vip", "::1", nil, "loopback"},
	{"vip", "vip", "::", nil, "unspecified"},
	{"vip", "vip", "224.0.0.1", nil, "multicast"},
	{"vip", "vip", "ff02::1", nil, "multicast"},
	{"vip", "vip", "169.254.1.1", nil, "link-local"},
	{"vip", "vip", "fe80::1", nil, "link-local"},
	{"vip", "vip", "fe80::1%eth0", nil, "has a zone"},
	{"vip", "vip", "::192.0.2.1", nil, "IPv4-compatible"},
	{"vip", "vip", "::ffff:192.0.2.1", nil, "IPv4-mapped"},
	{"vip", "vip", "192.0.2.0/24", nil, "not a single host"},

	// Names.
	{"names", "node-name", "", nil, "must not be empty (leave it unset to use the hostname)"},
	{"names", "node-name", "Node_1", nil, `"Node_1" is not a valid node name`},
	{"names", "node-name", "a\nb", nil, `"a\nb" is not a valid node name`},
	{"names", "node-name", strings.Repeat("a", 239), nil, "at most 238 fit in the Lease name vipkeeper-node-<name>"},
	{"names", "interface", "lo", nil, "loopback interface"},
	{"names", "interface", "kube-ipvs0", nil, "kube-proxy's IPVS dummy interface"},
	{"names", "interface", "eth0\n", nil, `"eth0\n" holds '\n'`},
	{"names", "interface", "abcdefghijklmnop", nil, "longer than 15 bytes"},
	{"names", "interface", "..", nil, "not a valid interface name"},
	{"names", "lease-name", "Bad_Name", nil, "not a valid object name"},
	{"names", "lease-namespace", "a.b", nil, "not a valid namespace"},

	// Relations: the setting someone set is blamed, never the other
	// one's default.
	{"relations", "renew-deadline", "5s", nil, "--renew-deadline 5s must be less than --lease-duration 5s"},
	{"relations", "lease-duration", "3s", nil, "--renew-deadline 3s must be less than --lease-duration 3s"},
	{"relations", "retry-period", "3s", nil, "--renew-deadline 3s must be greater than 1.2 × --retry-period 3s"},
	{"relations", "safety-margin", "3s", nil, "--safety-margin 3s must be at most half of --lease-duration 5s"},
	{"relations", "lease-duration", "3400ms", nil, "--renew-deadline 3s + --safety-margin 500ms must be less than --lease-duration 3.4s: a holder that cannot renew"},
	{"relations", "safety-margin", "2s", []string{"--lease-duration", "4s"}, "--renew-deadline 3s + --safety-margin 2s must be less than --lease-duration 4s"},
	{"relations", "takeover-probe", "2s", nil, "--takeover-probe 2s must be at most half of --renew-deadline 3s"},
	{"relations", "health-timeout", "1s", nil, "--health-timeout 1s must be less than --health-interval 1s"},
	{"relations", "health-interval", "500ms", nil, "--health-timeout 500ms must be less than --health-interval 500ms"},
	{"relations", "health-ca-file", "/ca.pem", nil, "no --health-http check uses https"},
	{"relations", "health-ca-file", "/ca.pem", []string{"--health-http", "http://127.0.0.1:8080/"}, "no --health-http check uses https"},
	{"relations", "health-insecure-skip-verify", "true", nil, "no --health-http check uses https"},
	{"relations", "health-insecure-skip-verify", "true", []string{"--health-http", "https://127.0.0.1:6443/", "--health-ca-file", "/ca.pem"}, "cannot be combined with health-ca-file"},
	{"relations", "api-server-check-timeout", "500ms", nil, "--api-server-check-timeout 500ms must be less than --api-server-check-interval 500ms"},
	{"relations", "api-server-check-interval", "400ms", nil, "--api-server-check-timeout 400ms must be less than --api-server-check-interval 400ms"},
	{"relations", "api-server-check", "true", nil, "checks the first --api-server, this node's own API server (e.g. https://127.0.0.1:6443), and none is set"},
	{"relations", "services-pool", "pool=a;addresses=203.0.113.0/28", nil, "needs --services"},
	{"relations", "services-pool", "pool=a;addresses=192.0.2.96/28", []string{"--services"}, "holds the VIP 192.0.2.100"},

	// Other values.
	{"values", "api-outage", "maybe", nil, "not one of hold, release"},
	{"values", "log-level", "loud", nil, "not one of debug, info, warn, error"},
	{"values", "health-http", "ftp://192.0.2.1/", nil, "scheme must be http or https"},
	{"values", "health-icmp", "nope", nil, ""},
	{"values", "services", "yes", nil, "not true or false"},
}

// required are the settings every case needs, unless it tests one of them.
var required = map[string]string{"vip": "192.0.2.100", "interface": "eth0"}

// base returns the flags a case needs besides its own setting.
func (b badInput) base() []string {
	var args []string
	for _, n := range []string{"vip", "interface"} {
		if n != b.name {
			args = append(args, "--"+n, required[n])
		}
	}
	return append(args, b.extra...)
}

func TestBadInputs(t *testing.T) {
	for _, b := range badInputs {
		yamlValue, _ := json.Marshal(b.value) // a JSON string is a YAML double-quoted scalar
		if o, _ := lookupOption(b.name); o.list {
			yamlValue = []byte("[" + string(yamlValue) + "]")
		}
		for _, v := range []struct {
			how    string
			args   []string
			env    map[string]string
			files  map[string]string
			source string
		}{
			{"flag", append(b.base(), "--"+b.name+"="+b.value), nil, nil, "--" + b.name},
			{"env", b.base(), map[string]string{EnvVar(b.name): b.value}, nil, EnvVar(b.name)},
			{"file", append(b.base(), "--config", "/c.yaml"), nil, map[string]string{"/c.yaml": YAMLKey(b.name) + ": " + string(yamlValue) + "\n"},
				"config file /c.yaml: field " + YAMLKey(b.name)},
		} {
			t.Run(fmt.Sprintf("%s/%s=%.20q/%s", b.rule, b.name, b.value, v.how), func(t *testing.T) {
				c, err := Load(sources(v.args, v.env, v.files))
				if c != nil {
					t.Errorf("Load returned a Config with its error: nothing may be applied")
				}
				checkLoadError(t, err, v.source, b.text)
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("the error shows a password: %v", err)
				}
			})
		}
	}
}
