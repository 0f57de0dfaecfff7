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
// VIPs are added as host prefixes (/32, /128) with scope global, valid
// lifetime forever and preferred lifetime 0, so the kernel marks them
// deprecated and never picks them as a source address; IPv6 VIPs are added
// with IFA_F_NODAD so they are usable at once and cannot end up "dadfailed"
// when the old holder still answers during a handover.
//
// The package is Linux only.
package vip
