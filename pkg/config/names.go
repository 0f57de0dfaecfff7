package config

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/vipkeeper/vipkeeper/pkg/ifname"
)

// nodeLeasePrefix starts the name of a node's Lease in services mode
// (services.NodeLeasePrefix; a test keeps the two equal).
const nodeLeasePrefix = "vipkeeper-node-"

// maxNodeName is the longest node name whose Lease name, nodeLeasePrefix
// + name, is still a valid object name (253 characters, DNS-1123).
const maxNodeName = validation.DNS1123SubdomainMaxLength - len(nodeLeasePrefix)

// CheckNodeName reports whether name can be this node's identity: it is
// the Lease's holder, sent in every request's User-Agent, and part of the
// node Lease's name, so it must be a DNS-1123 subdomain (as Kubernetes
// node names are) short enough for "vipkeeper-node-<name>".
func CheckNodeName(name string) error {
	if name == "" {
		return fmt.Errorf("must not be empty (leave it unset to use the hostname)")
	}
	if len(name) > maxNodeName {
		return fmt.Errorf("is %d characters; at most %d fit in the Lease name %s<name>", len(name), maxNodeName, nodeLeasePrefix)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("%q is not a valid node name: %s", name, errs[0])
	}
	return nil
}

// CheckLeaseName reports whether name can be a Lease's name (a DNS-1123
// subdomain).
func CheckLeaseName(name string) error {
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("%q is not a valid object name: %s", name, errs[0])
	}
	return nil
}

// CheckNamespace reports whether name can be a namespace (a DNS-1123
// label).
func CheckNamespace(name string) error {
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return fmt.Errorf("%q is not a valid namespace: %s", name, errs[0])
	}
	return nil
}

// checkInterface reports whether name can carry a VIP for other hosts.
func checkInterface(name string) error {
	if name == "" {
		return fmt.Errorf("required: the interface that carries the VIP")
	}
	if err := ifname.Check(name); err != nil {
		return err
	}
	switch name {
	case "lo":
		return fmt.Errorf("%q is the loopback interface: an address there is never announced to other hosts", name)
	case "kube-ipvs0":
		return fmt.Errorf("%q is kube-proxy's IPVS dummy interface: it answers no ARP and kube-proxy keeps its addresses in line with the Services", name)
	}
	return nil
}

// validateNames checks the settings that are names.
func (c *Config) validateNames() error {
	if err := CheckNodeName(c.NodeName); err != nil {
		if c.sources["node-name"] == "hostname" {
			err = fmt.Errorf("%w; set --node-name", err)
		}
		return &fieldError{name: "node-name", err: err}
	}
	if err := checkInterface(c.Interface); err != nil {
		return &fieldError{name: "interface", err: err}
	}
	if err := CheckLeaseName(c.LeaseName); err != nil {
		return &fieldError{name: "lease-name", err: err}
	}
	if err := CheckNamespace(c.LeaseNamespace); err != nil {
		return &fieldError{name: "lease-namespace", err: err}
	}
	return nil
}
