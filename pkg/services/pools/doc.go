// Package pools reads the address pools of services mode from the cluster:
// the AddressPool objects (vipkeeper.io/v1alpha1, cluster-scoped) that
// `vipkeeper manifest crds` defines.
//
// It owns three things: the Go form of the object (AddressPool), the rules
// that turn the objects every node sees into the one ordered list of
// valid pools the allocator and the binder use (Compile: pure, the same
// answer on every node from the same objects), and the status the
// allocator node writes back (Status: a Valid condition and the usage).
// The address rules themselves are pkg/services/ipam's, applied as to the
// flag form.
package pools
