package doctor

import (
	"errors"
	"testing"
	"testing/fstest"
)

const routeHeader = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"

func TestDefaultInterface(t *testing.T) {
	for _, tc := range []struct {
		name    string
		route   string
		route6  string
		want    string
		wantErr error
	}{
		{name: "ipv4", route: routeHeader + "eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n", want: "eth0"},
		{name: "lowest metric", route: routeHeader +
			"eth0\t00000000\t010200C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n" +
			"eth1\t00000000\t01643363\t0003\t0\t0\t100\t00000000\t0\t0\t0\n" +
			"eth2\t00007133\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n", want: "eth1"},
		{name: "down and reject routes skipped", route: routeHeader +
			"eth0\t00000000\t010200C0\t0002\t0\t0\t0\t00000000\t0\t0\t0\n" +
			"eth1\t00000000\t00000000\t0201\t0\t0\t0\t00000000\t0\t0\t0\n" +
			"bond0.100\t00000000\t010200C0\t0003\t0\t0\t50\t00000000\t0\t0\t0\n", want: "bond0.100"},
		{name: "ipv6 only", route: routeHeader,
			route6: "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     ens3\n" +
				"20010db8000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     ens3\n", want: "ens3"},
		{name: "ipv6 unreachable on lo", route: routeHeader,
			route6: "00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n", wantErr: ErrNoDefaultRoute},
		{name: "no files", wantErr: ErrNoDefaultRoute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			if tc.route != "" {
				fsys["proc/net/route"] = &fstest.MapFile{Data: []byte(tc.route)}
			}
			if tc.route6 != "" {
				fsys["proc/net/ipv6_route"] = &fstest.MapFile{Data: []byte(tc.route6)}
			}
			got, err := DefaultInterface(fsys)
			if !errors.Is(err, tc.wantErr) || got != tc.want {
				t.Errorf("DefaultInterface = %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func FuzzDefaultRoute(f *testing.F) {
	f.Add([]byte(routeHeader + "eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"))
	f.Add([]byte("00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     ens3\n"))
	f.Add([]byte("eth0 00000000 0 zz 0 0 -1 00000000\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, parse := range []func([]byte) (string, bool){defaultRoute4, defaultRoute6} {
			iface, ok := parse(b)
			if ok && validInterfaceName(iface) != nil {
				t.Errorf("parse(%q) = %q, not a valid interface name", b, iface)
			}
			if !ok && iface != "" {
				t.Errorf("parse(%q) = %q, false", b, iface)
			}
		}
	})
}

func FuzzParseValue(f *testing.F) {
	for _, s := range []string{"1\n", " 0 ", "-1", "86400", "9223372036854775808", "0x10", "1\t2", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseValue(b)
		if err != nil {
			return
		}
		if len(b) > maxSysctlValue {
			t.Errorf("parseValue accepted %d bytes", len(b))
		}
		if w, err := parseValue([]byte(itoa(v))); err != nil || w != v {
			t.Errorf("parseValue(%q) = %d, which does not parse back: %d, %v", b, v, w, err)
		}
	})
}
