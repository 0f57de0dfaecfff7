// Package ether holds the link-layer helpers that pkg/announce and
// pkg/guard share: looking the VIP interface up and checking that it has
// an Ethernet address, telling whether it changed under us, the all-zero
// target hardware address of ARP probes and announcements, and the
// canonical, de-duplicated form of the address set both of them act on.
//
// It is pure apart from the lookup function the caller passes in: no
// sockets, no logging.
package ether
