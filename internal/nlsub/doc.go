// Package nlsub keeps one rtnetlink subscription alive for a loop that
// must not miss a change: pkg/vip's address events and pkg/health's link
// events.
//
// Run subscribes first and only then asks the caller to read the current
// state (sync), so that no change falls between the read and the first
// event. It then hands the caller every event. When subscribing fails, or
// the subscription closes (the kernel closes it when events overflow the
// socket buffer, and the reader then stops), it waits a delay, subscribes
// again and asks for another sync: events missed meanwhile are made up for
// by reading the state again. The delay paces the retries, so a
// subscription that keeps failing cannot spin.
//
// The subscription itself is a function the caller passes in, in the shape
// of vishvananda/netlink's AddrSubscribeWithOptions and
// LinkSubscribeWithOptions with their options bound; tests pass a fake.
package nlsub
