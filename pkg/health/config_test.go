package health

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestValidate(t *testing.T) {
	httpCheck := Check{Name: "http-0", Kind: KindHTTP, Target: "https://127.0.0.1:6443/livez", StatusMin: 200, StatusMax: 399}
	icmpCheck := Check{Name: "icmp-0", Kind: KindICMP, Target: "192.0.2.1"}
	with := func(f func(*Config)) Config {
		c := DefaultConfig()
		c.Checks = []Check{httpCheck, icmpCheck}
		c.Interface = "eth0"
		f(&c)
		return c
	}
	tests := []struct {
		name      string
		cfg       Config
		wantField string // "" for valid
		wantText  string
	}{
		{"defaults", DefaultConfig(), "", ""},
		{"checks and interface", with(func(*Config) {}), "", ""},
		{"zero interval", with(func(c *Config) { c.Interval = 0 }), "health-interval", "greater than 0"},
		{"negative timeout", with(func(c *Config) { c.Timeout = -time.Second }), "health-timeout", "greater than 0"},
		{"timeout equals interval", with(func(c *Config) { c.Timeout = c.Interval }), "health-timeout", "less than health-interval"},
		{"timeout above interval", with(func(c *Config) { c.Timeout = 2 * time.Second }), "health-timeout", "less than"},
		{"rise 0", with(func(c *Config) { c.Rise = 0 }), "health-rise", "at least 1"},
		{"fall -1", with(func(c *Config) { c.Fall = -1 }), "health-fall", "at least 1"},
		{"interface too long", with(func(c *Config) { c.Interface = "abcdefghijklmnop" }), "interface", "not a valid interface name"},
		{"interface with slash", with(func(c *Config) { c.Interface = "a/b" }), "interface", "not a valid"},
		{"no interface", with(func(c *Config) { c.Interface = "" }), "", ""},
		{"empty check name", with(func(c *Config) { c.Checks[0].Name = "" }), "health-http", "name"},
		{"check name with a URL", with(func(c *Config) { c.Checks[1].Name = "icmp-192.0.2.1/x" }), "health-icmp", "name"},
		{"duplicate name", with(func(c *Config) { c.Checks[1].Name = "http-0" }), "health-icmp", "used twice"},
		{"bad kind", with(func(c *Config) { c.Checks[0].Kind = "tcp" }), "health-http", `kind "tcp"`},
		{"bad scheme", with(func(c *Config) { c.Checks[0].Target = "ftp://192.0.2.1/" }), "health-http", "scheme"},
		{"no host", with(func(c *Config) { c.Checks[0].Target = "http:///livez" }), "health-http", "no host"},
		{"empty status range", with(func(c *Config) { c.Checks[0].StatusMin, c.Checks[0].StatusMax = 300, 200 }), "health-http", "status range"},
		{"zero status range", with(func(c *Config) { c.Checks[0].StatusMin, c.Checks[0].StatusMax = 0, 0 }), "health-http", "status range"},
		{"CA file and insecure", with(func(c *Config) { c.Checks[0].CAFile, c.Checks[0].InsecureSkipVerify = "/ca.pem", true }), "health-insecure-skip-verify", "health-ca-file"},
		{"bad IP", with(func(c *Config) { c.Checks[1].Target = "192.0.2.300" }), "health-icmp", "not an IP address"},
		{"host name for ICMP", with(func(c *Config) { c.Checks[1].Target = "example.com" }), "health-icmp", "not an IP address"},
		{"TLS on ICMP", with(func(c *Config) { c.Checks[1].InsecureSkipVerify = true }), "health-icmp", "only to HTTP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate() = %v, want a *FieldError", err)
			}
			if fe.Field != tt.wantField || !strings.HasPrefix(err.Error(), tt.wantField+": ") || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("Validate() = %q (field %q), want field %q and text %q", err, fe.Field, tt.wantField, tt.wantText)
			}
		})
	}
}

func TestParseHTTPCheck(t *testing.T) {
	tests := []struct {
		in       string
		want     Check
		wantText string // error text; "" for success
	}{
		{in: "https://127.0.0.1:6443/livez", want: Check{Kind: KindHTTP, Target: "https://127.0.0.1:6443/livez", StatusMin: 200, StatusMax: 399}},
		{in: "http://[2001:db8::1]:8080/healthz?verbose", want: Check{Kind: KindHTTP, Target: "http://[2001:db8::1]:8080/healthz?verbose", StatusMin: 200, StatusMax: 399}},
		{in: "HTTPS://192.0.2.1/", want: Check{Kind: KindHTTP, Target: "https://192.0.2.1/", StatusMin: 200, StatusMax: 399}},
		{in: "https://127.0.0.1:6443/livez,status=200-299", want: Check{Kind: KindHTTP, Target: "https://127.0.0.1:6443/livez", StatusMin: 200, StatusMax: 299}},
		{in: "http://192.0.2.1/a,b,status=204", want: Check{Kind: KindHTTP, Target: "http://192.0.2.1/a,b", StatusMin: 204, StatusMax: 204}},
		{in: "http://192.0.2.1/a,b", want: Check{Kind: KindHTTP, Target: "http://192.0.2.1/a,b", StatusMin: 200, StatusMax: 399}},
		{in: "", wantText: "empty"},
		{in: "ftp://192.0.2.1/", wantText: "scheme must be http or https"},
		{in: "192.0.2.1:6443/livez", wantText: "not a URL"},
		{in: "/livez", wantText: "scheme"},
		{in: "http:192.0.2.1", wantText: "no host"},
		{in: "http://192.0.2.1:0/", wantText: "port"},
		{in: "http://192.0.2.1:70000/", wantText: "port"},
		{in: "http://192.0.2.1/,status=", wantText: "three-digit"},
		{in: "http://192.0.2.1/,status=2xx", wantText: "three-digit"},
		{in: "http://192.0.2.1/,status=299-200", wantText: "status range"},
		{in: "http://192.0.2.1/,status=600", wantText: "status range"},
		{in: "http://192.0.2.1/,status=+20", wantText: "three-digit"},
		{in: "https://user:secret@192.0.2.1:99999/", wantText: "xxxxx"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseHTTPCheck(tt.in)
			if tt.wantText == "" {
				if err != nil {
					t.Fatalf("ParseHTTPCheck: %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("ParseHTTPCheck (-want +got):\n%s", diff)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "health-http" || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("ParseHTTPCheck error = %v, want a health-http error containing %q", err, tt.wantText)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the URL's password", err)
			}
		})
	}
}

func TestParseICMPCheck(t *testing.T) {
	tests := []struct {
		in, want, wantText string
	}{
		{in: "192.0.2.1", want: "192.0.2.1"},
		{in: "2001:db8::1", want: "2001:db8::1"},
		{in: "2001:DB8:0::1", want: "2001:db8::1"},
		{in: "::ffff:198.51.100.7", want: "198.51.100.7"},
		{in: "fe80::1%eth0", want: "fe80::1%eth0"},
		{in: "", wantText: "empty"},
		{in: "192.0.2.256", wantText: "not an IP address"},
		{in: "192.0.2.1/24", wantText: "not an IP address"},
		{in: " 192.0.2.1", wantText: "not an IP address"},
		{in: "example.com", wantText: "not an IP address"},
		{in: "0.0.0.0", wantText: "not a unicast"},
		{in: "::", wantText: "not a unicast"},
		{in: "224.0.0.1", wantText: "not a unicast"},
		{in: "ff02::1", wantText: "not a unicast"},
		{in: "255.255.255.255", wantText: "not a unicast"},
		{in: "2001:db8::1%eth0", wantText: "zone"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseICMPCheck(tt.in)
			if tt.wantText == "" {
				if err != nil {
					t.Fatalf("ParseICMPCheck: %v", err)
				}
				if diff := cmp.Diff(Check{Kind: KindICMP, Target: tt.want}, got); diff != "" {
					t.Errorf("ParseICMPCheck (-want +got):\n%s", diff)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "health-icmp" || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("ParseICMPCheck error = %v, want a health-icmp error containing %q", err, tt.wantText)
			}
		})
	}
}

func TestParseChecks(t *testing.T) {
	h := func(name, target string, lo, hi int) Check {
		return Check{Name: name, Kind: KindHTTP, Target: target, StatusMin: lo, StatusMax: hi}
	}
	i := func(name, target string) Check { return Check{Name: name, Kind: KindICMP, Target: target} }
	tests := []struct {
		name       string
		http, icmp []string
		want       []Check
		wantErr    string
	}{
		{"flags repeated", []string{"https://127.0.0.1:6443/livez", "http://192.0.2.9/,status=204"}, []string{"192.0.2.1", "2001:db8::1"}, []Check{
			h("http-0", "https://127.0.0.1:6443/livez", 200, 399), h("http-1", "http://192.0.2.9/", 204, 204),
			i("icmp-0", "192.0.2.1"), i("icmp-1", "2001:db8::1"),
		}, ""},
		{"comma lists", []string{"https://192.0.2.1/livez,status=200-299, http://192.0.2.2/,", "http://192.0.2.3/"}, []string{"192.0.2.1, 198.51.100.1", "203.0.113.1"}, []Check{
			h("http-0", "https://192.0.2.1/livez", 200, 299), h("http-1", "http://192.0.2.2/", 200, 399), h("http-2", "http://192.0.2.3/", 200, 399),
			i("icmp-0", "192.0.2.1"), i("icmp-1", "198.51.100.1"), i("icmp-2", "203.0.113.1"),
		}, ""},
		{"encoded comma in a URL", []string{"http://192.0.2.1/a%2Cb"}, nil, []Check{h("http-0", "http://192.0.2.1/a%2Cb", 200, 399)}, ""},
		{"nothing", []string{"", " , "}, []string{""}, nil, ""},
		{"status first", []string{"status=200,http://192.0.2.1/"}, nil, nil, "must follow a URL"},
		{"status twice", []string{"http://192.0.2.1/,status=200,status=204"}, nil, nil, "must follow a URL"},
		{"bad ICMP item", nil, []string{"192.0.2.1,nope"}, nil, "health-icmp"},
		{"bad HTTP item", []string{"http://192.0.2.1/,ftp://192.0.2.2/"}, nil, nil, "scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseChecks(tt.http, tt.icmp)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ParseChecks error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseChecks (-want +got):\n%s", diff)
			}
			cfg := DefaultConfig()
			cfg.Checks = got
			if err := cfg.Validate(); err != nil {
				t.Errorf("Validate of parsed checks: %v", err)
			}
		})
	}
}

// FuzzParseHTTPCheck: the parser never panics, and whatever it accepts is a
// valid check once named, parses again to the same check, and never shows a
// password in an error.
func FuzzParseHTTPCheck(f *testing.F) {
	for _, s := range []string{"https://127.0.0.1:6443/livez", "http://[2001:db8::1]:80/x,status=200-299",
		"http://a/,status=204", "ftp://x", "http://u:p@h:1/", "http://h/,status=", "%zz", "http://[::1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if checks, err := ParseChecks([]string{s}, nil); err == nil {
			cfg := DefaultConfig()
			cfg.Checks = checks
			if err := cfg.Validate(); err != nil {
				t.Fatalf("ParseChecks(%q) = %+v, which Validate rejects: %v", s, checks, err)
			}
		}
		c, err := ParseHTTPCheck(s)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "health-http" {
				t.Fatalf("error %v is not a health-http *FieldError", err)
			}
			return
		}
		c.Name = "http-0"
		cfg := DefaultConfig()
		cfg.Checks = []Check{c}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("ParseHTTPCheck(%q) = %+v, which Validate rejects: %v", s, c, err)
		}
		again, err := ParseHTTPCheck(c.Target + ",status=" + statusString(c))
		if err != nil {
			t.Fatalf("re-parse of %q: %v", c.Target, err)
		}
		again.Name = c.Name
		if again != c {
			t.Fatalf("re-parse: %+v, want %+v", again, c)
		}
	})
}

func statusString(c Check) string {
	return strings.Join([]string{itoa3(c.StatusMin), itoa3(c.StatusMax)}, "-")
}

func itoa3(n int) string {
	return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
}

func FuzzParseICMPCheck(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "2001:db8::1", "fe80::1%eth0", "::ffff:1.2.3.4", "0.0.0.0", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseICMPCheck(s)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "health-icmp" {
				t.Fatalf("error %v is not a health-icmp *FieldError", err)
			}
			return
		}
		c.Name = "icmp-0"
		cfg := DefaultConfig()
		cfg.Checks = []Check{c}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("ParseICMPCheck(%q) = %+v, which Validate rejects: %v", s, c, err)
		}
		again, err := ParseICMPCheck(c.Target)
		if err != nil || again.Target != c.Target {
			t.Fatalf("re-parse of %q = %+v, %v", c.Target, again, err)
		}
	})
}
