package config

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vipkeeper/vipkeeper/pkg/services/ipam"
)

// CheckHost runs the checks that need the node; it reads and changes
// nothing. The interface must exist, and no VIP may be an address the
// interface already has (it would be "held" on every node that has it),
// nor the network, broadcast or subnet-router anycast address of a subnet
// connected there (ipam.HostExclusions, the rule the Service pools follow
// too). The kubeconfig, or the in-cluster configuration, must be there.
//
// foreignAddrs returns the interface's addresses that vipkeeper did not
// add, with their prefix lengths (vip.ForeignAddrs): an address carrying
// vipkeeper's own marker is a crashed run's leftover, which start-up
// removes, so it must not refuse the VIP. Only the VIP's interface is
// read, never kube-ipvs0, where kube-proxy in IPVS mode puts every
// LoadBalancer address on every node. Errors are *Error naming the setting
// at fault as it was set.
func (c *Config) CheckHost(foreignAddrs func(ifname string) ([]netip.Prefix, error), lookupEnv func(string) (string, bool)) error {
	addrs, err := foreignAddrs(c.Interface)
	if err != nil {
		return &Error{Source: c.Source("interface"), Err: fmt.Errorf("%q: %w", c.Interface, err)}
	}
	excl := ipam.HostExclusions(c.Interface, addrs)
	for _, v := range c.VIPs {
		for _, x := range excl {
			if x.Prefix.Contains(v) {
				return &Error{Source: c.Source("vip"), Err: fmt.Errorf(
					"%s cannot be a VIP: it is %s; a VIP must be an address no host on the segment uses", v, x.Why)}
			}
		}
	}
	if c.Kubeconfig == "" {
		_, hostOK := lookupEnv("KUBERNETES_SERVICE_HOST")
		_, portOK := lookupEnv("KUBERNETES_SERVICE_PORT")
		if !hostOK || !portOK {
			return &Error{Source: c.Source("kubeconfig"), Err: errors.New("not set, and not running in a cluster (KUBERNETES_SERVICE_HOST is unset)")}
		}
	}
	return nil
}
