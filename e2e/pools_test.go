package e2e

import (
	"strings"
	"testing"

	"github.com/vipkeeper/vipkeeper/e2e/lab"
)

// crdFile is the AddressPool CRD as `vipkeeper manifest crds` prints it.
const crdFile = manifestsDir + "/crds.yaml"

// TestAddressPoolSchema applies the AddressPool CRD to the lab's real
// kube-apiserver (which also proves its CEL rules within the cost budget:
// the API server refuses a CRD whose estimate exceeds it) and tries good
// and bad objects against its schema and CEL rules. What the schema lets
// through, the daemon checks again (pkg/services/pools, TestCompile).
func TestAddressPoolSchema(t *testing.T) {
	l := lab.Start(t, lab.Options{Nodes: 1, NoDaemons: true})
	l.InstallCRDs(crdFile)
	f := false
	tests := []struct {
		name string
		pool lab.Pool
		want string // "" accepted, else a part of the refusal
	}{
		{"CIDR and range, both families", lab.Pool{Name: "good", Addresses: []string{"203.0.113.128/25", "2001:db8:1::10-2001:db8:1::20"}}, ""},
		{"manual, namespaces", lab.Pool{Name: "manual", Addresses: []string{"203.0.113.200-203.0.113.201"}, Namespaces: []string{"team-a"}, AutoAssign: &f}, ""},
		{"IPv6 CIDR", lab.Pool{Name: "six", Addresses: []string{"2001:db8:1::/64"}}, ""},
		{"host bits set", lab.Pool{Name: "hostbits", Addresses: []string{"203.0.113.130/25"}}, "each address item"},
		{"not an address", lab.Pool{Name: "word", Addresses: []string{"blue"}}, "each address item"},
		{"mixed-family range", lab.Pool{Name: "mixed", Addresses: []string{"203.0.113.130-2001:db8:1::1"}}, "each address item"},
		{"range with a bad end", lab.Pool{Name: "badend", Addresses: []string{"203.0.113.130-203.0.113.300"}}, "each address item"},
		{"zoned address", lab.Pool{Name: "zoned", Addresses: []string{"2001:db8:1::1%eth0-2001:db8:1::2"}}, "each address item"},
		{"no addresses", lab.Pool{Name: "empty", Addresses: []string{}}, "spec.addresses"},
		{"duplicate item", lab.Pool{Name: "dup", Addresses: []string{"203.0.113.128/25", "203.0.113.128/25"}}, "Duplicate value"},
		{"name with a dot", lab.Pool{Name: "a.b", Addresses: []string{"203.0.113.128/25"}}, "DNS-1123 label"},
		{"bad namespace", lab.Pool{Name: "badns", Addresses: []string{"203.0.113.128/25"}, Namespaces: []string{"Team_A"}}, "spec.namespaces"},
		{"unknown field", lab.Pool{Name: "unknown", Addresses: []string{"203.0.113.128/25"}, Extra: map[string]any{"color": "blue"}}, "unknown field"},
		{"interface too long", lab.Pool{Name: "longif", Addresses: []string{"203.0.113.128/25"}, Extra: map[string]any{"interface": "a-very-long-interface"}}, "spec.interface"},
		{"placement is schema-valid", lab.Pool{Name: "placed", Addresses: []string{"203.0.113.128/25"},
			Extra: map[string]any{"interface": "eth1", "preferredNodes": []any{"node-1"},
				"nodeSelector": map[string]any{"matchLabels": map[string]any{"vipkeeper.io/segment": "b"}}}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := l.CreatePool(tc.pool)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Errorf("accepted; want a refusal naming %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("refused with %v; want it to name %q", err, tc.want)
			default:
				t.Logf("%v", err)
			}
		})
	}
}
