// Package vip is the single owner of virtual IP addresses on one network
// interface.
//
// A [Binder] holds the desired set of VIPs, reads what the kernel holds on the
// interface, and applies the difference: it adds desired addresses that are
// missing and deletes addresses of its own that are no longer desired. It
// repeats this on every rtnetlink address event and on a timer, so a VIP
// removed by someone else (NetworkManager, a DHCP client, an administrator) is
// put back, and it always reads the kernel before writing rather than trusting
// an in-memory copy.
//
// # Ownership
//
// Every address the binder adds carries the address protocol [Protocol] in
// the IFA_PROTO attribute (Linux ≥ 6.1). That marker is how the binder
// recognises its own addresses, also those a previous, crashed run left
// behind: Start's first reconcile runs with an empty desired set and removes
// them. An address without the marker is never added over, changed or
// deleted, even if it equals a desired VIP.
//
// # Address shape
//
// VIPs are added as host prefixes (/32, /128) with scope global and
// preferred lifetime 0, so the kernel marks them deprecated and never picks
// them as a source address; IPv6 VIPs are added with IFA_F_NODAD so they are
// usable at once and cannot end up "dadfailed" when the old holder still
// answers during a handover.
//
// # Lifetimes
//
// Every address comes with the deadline of the decision that keeps it
// ([Want]). Its valid lifetime is the time left until that deadline minus
// the kernel's lateness, in whole seconds rounded down ([Lifetime]), so the
// kernel removes it by the deadline even when this process is frozen or
// dead. Every reconcile refreshes the lifetimes that the deadlines moved
// (NLM_F_REPLACE, with the same flags and IFA_PROTO: a replace without it
// resets the protocol to 0); the address events a refresh causes are not
// reconciled again. An address that disappears when its lifetime could not
// be refreshed any more (less than the lateness and a second left: a replace
// would re-create it) expired: it is counted ([Binder.Expired]) and never
// put back.
//
// The package is Linux only.
package vip
