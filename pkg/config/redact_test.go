package config

import "testing"

func TestRedactAndPrintable(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"https://127.0.0.1:6443", "https://127.0.0.1:6443"},
		{`"https://admin:s3cret@127.0.0.1:6443" is bad`, `"https://REDACTED@127.0.0.1:6443" is bad`},
		{"http://token@cp.example/x and ftp://u:p@w@h/", "http://REDACTED@cp.example/x and ftp://REDACTED@h/"},
		{"user@example.com", "user@example.com"}, // not a URL
		{"a\nb\x1b[31m", `a\nb\x1b[31m`},
	} {
		if got := printable(redact(tt.in)); got != tt.want {
			t.Errorf("printable(redact(%q)) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
