package config

import (
	"errors"
	"net/netip"
	"testing"
)

// hostAddrs fakes vip.ForeignAddrs: the addresses of eth0 that vipkeeper
// did not add, and records which interfaces were read.
func hostAddrs(read *[]string, addrs ...string) func(string) ([]netip.Prefix, error) {
	return func(name string) ([]netip.Prefix, error) {
		*read = append(*read, name)
		if name != "eth0" {
			return nil, errors.New("interface not found")
		}
		var out []netip.Prefix
		for _, a := range addrs {
			out = append(out, netip.MustParsePrefix(a))
		}
		return out, nil
	}
}

func inCluster(k string) (string, bool) { return "x", true }

func TestCheckHost(t *testing.T) {
	node := []string{"192.0.2.10/24", "2001:db8::10/64", "fe80::1/64"}
	for _, tt := range []struct {
		name   string
		args   []string
		env    map[string]string
		files  map[string]string
		addrs  []string
		lookup func(string) (string, bool)
		source string // "" when the host is fine
		text   string
	}{
		{"a free VIP", minimal, nil, nil, node, inCluster, "", ""},
		{"a free dual-stack pair", []string{"--vip", "192.0.2.100,2001:db8::100", "--interface", "eth0"}, nil, nil, node, inCluster, "", ""},
		{"a VIP on another subnet", []string{"--vip", "198.51.100.10", "--interface", "eth0"}, nil, nil, node, inCluster, "", ""},
		// A crashed run's leftover carries the marker: ForeignAddrs leaves
		// it out, so the VIP is free and the restart goes on.
		{"a leftover of a crashed run", minimal, nil, nil, node, inCluster, "", ""},
		{"the interface's own address", []string{"--vip", "192.0.2.10", "--interface", "eth0"}, nil, nil, node, inCluster,
			"--vip", "192.0.2.10 cannot be a VIP: it is an address of this node on eth0 (192.0.2.10/24)"},
		{"own address from the environment", []string{"--interface", "eth0"}, map[string]string{"VIPKEEPER_VIP": "2001:db8::10"}, nil, node, inCluster,
			"VIPKEEPER_VIP", "2001:db8::10 cannot be a VIP: it is an address of this node on eth0 (2001:db8::10/64)"},
		{"the network address, from the file", []string{"--config", "/c.yaml"}, nil, map[string]string{"/c.yaml": "vip: [192.0.2.0]\ninterface: eth0\n"}, node, inCluster,
			"config file /c.yaml: field vip", "the network address of 192.0.2.0/24, connected on eth0"},
		{"the broadcast address", []string{"--vip", "192.0.2.255", "--interface", "eth0"}, nil, nil, node, inCluster,
			"--vip", "the broadcast address of 192.0.2.0/24"},
		{"the subnet-router anycast address", []string{"--vip", "2001:db8::", "--interface", "eth0"}, nil, nil, node, inCluster,
			"--vip", "the subnet-router anycast address of 2001:db8::/64"},
		{"the interface is missing", []string{"--vip", "192.0.2.100", "--interface", "eth9"}, nil, nil, node, inCluster,
			"--interface", `"eth9": interface not found`},
		{"the interface from the environment is missing", []string{"--vip", "192.0.2.100"}, map[string]string{"VIPKEEPER_INTERFACE": "eth9"}, nil, node, inCluster,
			"VIPKEEPER_INTERFACE", `"eth9"`},
		{"no kubeconfig outside a cluster", minimal, nil, nil, node, func(string) (string, bool) { return "", false },
			"--kubeconfig", "not running in a cluster"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(sources(tt.args, tt.env, tt.files))
			if err != nil {
				t.Fatal(err)
			}
			var read []string
			err = c.CheckHost(hostAddrs(&read, tt.addrs...), tt.lookup)
			if len(read) != 1 || read[0] != c.Interface {
				t.Errorf("CheckHost read the addresses of %v; want only %s (never kube-ipvs0)", read, c.Interface)
			}
			if tt.source == "" {
				if err != nil {
					t.Errorf("CheckHost: %v", err)
				}
				return
			}
			checkLoadError(t, err, tt.source, tt.text)
		})
	}
}
