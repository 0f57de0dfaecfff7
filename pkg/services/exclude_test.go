package services

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipkeeper/vipkeeper/pkg/services/ipam"
)

// TestExcludedAddresses: addresses of the allocator's node inside a pool
// are never handed out — a request for one is refused with a Warning —
// while a Service that already holds one keeps it (taking an address from
// a running Service is the operator's call), with a Warning that says so.
func TestExcludedAddresses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newClient()
		ctx := context.Background()
		for _, s := range []struct {
			name string
			opts []svcOpt
		}{
			{"held", []svcOpt{withStatus("203.0.113.1")}},
			{"wants", []svcOpt{requesting("203.0.113.2")}},
			{"auto", nil},
		} {
			if _, err := c.CoreV1().Services("default").Create(ctx, lbService(s.name, s.opts...), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		own := ipam.HostExclusions("eth0", []netip.Prefix{netip.MustParsePrefix("203.0.113.1/32"), netip.MustParsePrefix("203.0.113.2/32")})
		n := startNodeWith(t, c, "n1", func(cfg *Config) { cfg.Exclusions = own })
		settle(soon)

		if got := ingressOf(t, c, "held"); !slices.Equal(got, []string{"203.0.113.1"}) {
			t.Errorf("held: status %v, want the address it held kept", got)
		}
		if !bound(n, "203.0.113.1") {
			t.Error("held: its address is not bound")
		}
		if !warned(c, "held", ReasonAddressExcluded) {
			t.Error("held: no AddressExcluded Warning")
		}
		if got := ingressOf(t, c, "wants"); len(got) != 0 {
			t.Errorf("wants: status %v, want none (203.0.113.2 is excluded)", got)
		}
		if !warned(c, "wants", ReasonAllocationFailed) {
			t.Error("wants: no AllocationFailed Warning")
		}
		got := ingressOf(t, c, "auto")
		if len(got) != 1 || got[0] == "203.0.113.1" || got[0] == "203.0.113.2" {
			t.Errorf("auto: status %v, want one address that is not excluded", got)
		}
		n.stop()
	})
}
