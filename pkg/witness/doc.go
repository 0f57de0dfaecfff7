// Package witness lets a holder know that a takeover would reach it on the
// VIP's link. Every vipkeeper of a group sends a small beacon frame on the
// VIP's interface at a fixed interval and listens for its peers' beacons;
// the latest instant a peer was heard is the evidence pkg/tenure asks for
// before a holder rides through an API outage past its own deadline
// (docs/safety.md, "Riding needs a witness").
//
// The beacons are raw Ethernet frames of EtherType 0x88B5 (IEEE 802
// Local Experimental EtherType 1) sent to the broadcast address: no IP
// address is involved, so the beacons flow exactly where the ARP and NDP
// frames of a takeover flow, and stop exactly when the frames between the
// holder's switch port and its peers' are dropped. A beacon names its
// group (a hash of the control-plane Lease's namespace/name, so two
// groups on one link never witness for each other), its sender's node
// name and a sequence number. Peers are learned from their beacons alone:
// the witness makes no API requests, ever.
//
// Everything is bounded: the frame size, the node name, the number of
// peers tracked and the rate of reports to the loops.
package witness
