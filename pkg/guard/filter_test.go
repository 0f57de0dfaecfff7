package guard

import (
	"testing"

	"golang.org/x/net/bpf"
)

// TestNDPFilter runs the kernel filter of the IPv6 socket in x/net/bpf's VM
// over every test frame: it must pass every IPv6 frame that carries an NS
// or NA right after the IPv6 header, and nothing else.
func TestNDPFilter(t *testing.T) {
	vm, err := bpf.NewVM(ndpFilter)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range classifyCases(t) {
		f := tc.frame
		wantPass := len(f) > ethHeaderLen+ipv6HeaderLen &&
			f[12] == 0x86 && f[13] == 0xdd && f[ethHeaderLen+6] == protoICMPv6 &&
			(f[ethHeaderLen+ipv6HeaderLen] == 135 || f[ethHeaderLen+ipv6HeaderLen] == 136)
		n, err := vm.Run(f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if pass := n > 0; pass != wantPass {
			t.Errorf("%s: filter passes = %v, want %v", tc.name, pass, wantPass)
		}
		if n > 0 && n < len(f) {
			t.Errorf("%s: filter truncates to %d of %d bytes", tc.name, n, len(f))
		}
	}
}
