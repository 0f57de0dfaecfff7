package manifest

import (
	"strings"

	"github.com/vipkeeper/vipkeeper/pkg/services/pools"
)

// CRDFile renders the CustomResourceDefinitions of services mode: the
// AddressPool (pkg/services/pools). They depend on no run flag.
//
// Written by hand rather than generated from Go types, so that the main
// module does not pull in the apiextensions API server. Every list and
// string is bounded (maxItems, maxLength): the API server estimates each
// CEL rule's worst-case cost from those bounds and refuses a CRD whose
// estimate exceeds its budget. The rules call isIP, ip, isCIDR and cidr,
// which the API server accepts in a new CRD from Kubernetes 1.31 on (the
// library arrived in 1.30, and a new expression may only use what the
// previous minor version knew). e2e's TestAddressPoolSchema applies the
// CRD to a real kube-apiserver and tries good and bad objects.
func CRDFile(o Options) []byte {
	return []byte(header(o,
		"The AddressPool CRD (vipkeeper.io/v1alpha1, cluster-scoped) for --services-pool-objects;",
		"needs Kubernetes 1.31 or later (CEL's IP and CIDR functions). docs/services.md.") +
		strings.ReplaceAll(crdYAML, "\t", "  "))
}

// crdYAML is the AddressPool CRD; tabs become two spaces.
var crdYAML = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
	name: ` + pools.CRDName + `
	labels:
		app.kubernetes.io/name: vipkeeper
spec:
	group: ` + pools.Group + `
	scope: Cluster
	names:
		kind: ` + pools.Kind + `
		listKind: ` + pools.Kind + `List
		plural: ` + pools.Resource + `
		singular: addresspool
		shortNames: [vkpool]
	versions:
	- name: ` + pools.Version + `
		served: true
		storage: true
		subresources:
			status: {}
		additionalPrinterColumns:
		- name: Addresses
			type: string
			jsonPath: .spec.addresses
		- name: Auto
			type: boolean
			jsonPath: .spec.autoAssign
		- name: Valid
			type: string
			jsonPath: .status.conditions[?(@.type=="Valid")].status
		- name: Age
			type: date
			jsonPath: .metadata.creationTimestamp
		schema:
			openAPIV3Schema:
				type: object
				description: A pool of addresses for LoadBalancer Services of class vipkeeper.io/lb.
				required: [spec]
				x-kubernetes-validations:
				- rule: self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')
					message: the name of a pool is a DNS-1123 label (at most 63 characters, no dots), as in the vipkeeper.io/address-pool annotation
				properties:
					apiVersion: {type: string}
					kind: {type: string}
					metadata: {type: object}
					spec:
						type: object
						required: [addresses]
						properties:
							addresses:
								type: array
								description: CIDRs (canonical, e.g. 203.0.113.128/28) or inclusive ranges FIRST-LAST of one family.
								minItems: 1
								maxItems: 64
								x-kubernetes-list-type: set
								items:
									type: string
									maxLength: 100
									x-kubernetes-validations:
									- rule: "self.contains('-') ? (isIP(self.substring(0, self.indexOf('-'))) && isIP(self.substring(self.indexOf('-') + 1)) && ip(self.substring(0, self.indexOf('-'))).family() == ip(self.substring(self.indexOf('-') + 1)).family()) : (isCIDR(self) && cidr(self) == cidr(self).masked())"
										message: each address item is a CIDR without host bits (e.g. 203.0.113.128/28) or a range FIRST-LAST of one family
							namespaces:
								type: array
								description: Namespaces whose Services may use the pool; empty means every namespace.
								maxItems: 256
								x-kubernetes-list-type: set
								items:
									type: string
									maxLength: 63
									pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'
							autoAssign:
								type: boolean
								default: true
								description: False serves only Services that name the pool (annotation vipkeeper.io/address-pool) or one of its addresses.
							nodeSelector:
								type: object
								description: Only nodes whose Node labels match announce the pool's addresses (with externalTrafficPolicy Local, those of them with a ready endpoint).
								properties:
									matchLabels:
										type: object
										maxProperties: 32
										additionalProperties:
											type: string
											maxLength: 63
									matchExpressions:
										type: array
										maxItems: 16
										items:
											type: object
											required: [key, operator]
											properties:
												key: {type: string, maxLength: 317}
												operator: {type: string, enum: [In, NotIn, Exists, DoesNotExist]}
												values:
													type: array
													maxItems: 64
													items: {type: string, maxLength: 63}
							interface:
								type: string
								description: The link that carries the pool's addresses on every node (default the daemon's --interface); a node where it is down or missing does not announce them.
								maxLength: 15
								pattern: '^[^/\s:]+$'
							preferredNodes:
								type: array
								description: Nodes that win the choice of announcer among the eligible ones while one of them is live; an address does not move back when one returns.
								maxItems: 32
								x-kubernetes-list-type: set
								items: {type: string, maxLength: 253}
					status:
						type: object
						description: Written by the allocator node only.
						properties:
							observedGeneration: {type: integer, format: int64}
							conditions:
								type: array
								maxItems: 8
								x-kubernetes-list-type: map
								x-kubernetes-list-map-keys: [type]
								items:
									type: object
									required: [type, status, reason, message, lastTransitionTime]
									properties:
										type: {type: string, maxLength: 316}
										status: {type: string, enum: ["True", "False", "Unknown"]}
										reason: {type: string, maxLength: 1024}
										message: {type: string, maxLength: 32768}
										observedGeneration: {type: integer, format: int64}
										lastTransitionTime: {type: string, format: date-time}
							usage:
								type: array
								maxItems: 2
								items:
									type: object
									required: [family, allocated, total]
									properties:
										family: {type: string, enum: [IPv4, IPv6]}
										allocated: {type: integer}
										total: {type: string, maxLength: 40}
`
