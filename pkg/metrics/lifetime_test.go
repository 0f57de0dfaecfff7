package metrics

import (
	"net/netip"
	"testing"
	"time"
)

func TestLifetimes(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		cp, svc time.Time
		expired uint64
		want    string
	}{{
		name: "holding both",
		cp:   now.Add(4500 * time.Millisecond), svc: now.Add(3 * time.Second), expired: 2,
		want: `
# HELP vipkeeper_services_lifetime_seconds Seconds until the kernel removes this node's Service VIPs on their own, at the latest (the smallest deadline among them); 0 while it holds none.
# TYPE vipkeeper_services_lifetime_seconds gauge
vipkeeper_services_lifetime_seconds 3
# HELP vipkeeper_vip_expired_total Addresses (control-plane and Service VIPs) the kernel removed at the end of their lifetime, because no renewal or tick of a ride extended it; never put back.
# TYPE vipkeeper_vip_expired_total counter
vipkeeper_vip_expired_total 2
# HELP vipkeeper_vip_lifetime_seconds Seconds until the kernel removes this node's VIP of the address family on its own, at the latest (its deadline); 0 while the node does not hold it.
# TYPE vipkeeper_vip_lifetime_seconds gauge
vipkeeper_vip_lifetime_seconds{family="ipv4"} 4.5
vipkeeper_vip_lifetime_seconds{family="ipv6"} 4.5
`,
	}, {
		name: "holding nothing, and a deadline in the past",
		svc:  now.Add(-time.Second),
		want: `
# HELP vipkeeper_services_lifetime_seconds Seconds until the kernel removes this node's Service VIPs on their own, at the latest (the smallest deadline among them); 0 while it holds none.
# TYPE vipkeeper_services_lifetime_seconds gauge
vipkeeper_services_lifetime_seconds 0
# HELP vipkeeper_vip_expired_total Addresses (control-plane and Service VIPs) the kernel removed at the end of their lifetime, because no renewal or tick of a ride extended it; never put back.
# TYPE vipkeeper_vip_expired_total counter
vipkeeper_vip_expired_total 0
# HELP vipkeeper_vip_lifetime_seconds Seconds until the kernel removes this node's VIP of the address family on its own, at the latest (its deadline); 0 while the node does not hold it.
# TYPE vipkeeper_vip_lifetime_seconds gauge
vipkeeper_vip_lifetime_seconds{family="ipv4"} 0
vipkeeper_vip_lifetime_seconds{family="ipv6"} 0
`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, reg := newTest(t)
			err := m.AddLifetimes(Lifetimes{
				VIPs:      []netip.Addr{netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("2001:db8::100")},
				Deadlines: func() (time.Time, time.Time) { return tt.cp, tt.svc },
				Expired:   func() uint64 { return tt.expired },
				Now:       func() time.Time { return now },
			})
			if err != nil {
				t.Fatal(err)
			}
			compare(t, reg, tt.want, "vipkeeper_vip_lifetime_seconds", "vipkeeper_services_lifetime_seconds", "vipkeeper_vip_expired_total")
		})
	}
}
