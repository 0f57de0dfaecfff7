package ifname

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"eth0", true},
		{"bond0.100", true},
		{"enp0s31f6", true},
		{"br-0123456789ab", true}, // 15 bytes, as Docker names bridges
		{"kube-ipvs0", true},      // a valid name; config refuses it as a VIP interface
		{"", false},
		{".", false},
		{"..", false},
		{"abcdefghijklmnop", false}, // 16 bytes
		{"a/b", false},
		{"eth0:1", false}, // an alias label, not an interface
		{"eth 0", false},
		{"eth0\n", false},
		{"eth\t0", false},
		{"eth\x000", false},
		{"eth\x1b[0", false},
		{"\xff", false},
	} {
		err := Check(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("Check(%q) = %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("Check(%q) = %v, does not wrap ErrInvalid", tt.name, err)
		}
		if err != nil && strings.ContainsAny(err.Error(), "\n\x00\x1b") {
			t.Errorf("Check(%q): the error carries the raw name: %q", tt.name, err)
		}
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{"eth0", "", "a/b", "abcdefghijklmnop", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if Check(s) == nil && (len(s) == 0 || len(s) > MaxLen || strings.ContainsAny(s, "/: \t\n\r\v\f\x00")) {
			t.Fatalf("Check(%q) accepted a name the kernel refuses", s)
		}
	})
}
