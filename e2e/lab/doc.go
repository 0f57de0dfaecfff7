// Package lab runs vipkeeper for real on one Linux machine: etcd and a
// kube-apiserver in a network namespace of their own, N node namespaces and a
// client namespace joined by a bridge in yet another namespace, and one
// vipkeeper daemon plus a tiny HTTP server in every node namespace.
//
// Topology (documentation addresses only, RFC 5737 and RFC 3849, so that
// nothing the lab sends can reach or impersonate a real network):
//
//	vk-<id>-br    bridge br0; one veth per namespace below plugs into it
//	vk-<id>-api   eth0 192.0.2.2/24, 2001:db8::2/64; etcd on 127.0.0.1,
//	              kube-apiserver on 192.0.2.2:6443
//	vk-<id>-n<k>  eth0 192.0.2.1<k>/24, 2001:db8::1<k>/64; vipkeeper, HTTP server
//	vk-<id>-cl    eth0 192.0.2.50/24, 2001:db8::50/64; long-lived neighbour cache
//
// With Options.SecondLink (link2.go) a second segment joins them: a bridge
// br1 in vk-<id>-br, an eth1 in the chosen nodes and a second client:
//
//	vk-<id>-n<k>  eth1 203.0.113.13<k>/25, 2001:db8:1::1<k>/64
//	vk-<id>-cl2   eth0 203.0.113.180/25, 2001:db8:1::50/64; long-lived neighbour cache
//
// The control-plane VIPs are 192.0.2.100 and 2001:db8::100. In services mode
// (Options.Services) the daemons also run --services with the pools
// ServicePool4 (192.0.2.128/26) and ServicePool6 (2001:db8::1:0/118), both on
// the nodes' link; the API server's service range is dual-stack
// (198.51.100.0/24, 2001:db8:ffff::/112) and EndpointSlices the tests write
// use 203.0.113.10–.127; the second segment's pools are SecondPool4
// (203.0.113.224/27) and SecondPool6 (2001:db8:1::1:0/120). With
// Options.Audit the API server keeps an audit log of the daemons' requests (audit.go), from which APIRequests
// counts them apart from everyone else's, non-resource ones included.
//
// In HA mode (Options.HA, ha.go) every node namespace runs a kube-apiserver
// of its own instead, on all its addresses, with etcd left in vk-<id>-api on
// 192.0.2.2:2379; the kubeconfigs name HAServerName and each daemon gets
// --api-server for its own API server on loopback, then the others'.
// StartAPIClient runs a client-go client through the VIP from vk-<id>-cl.
//
// A Lab is created with Start and torn down by t.Cleanup, by the SIGINT and
// SIGTERM handler that Main installs, and — after a crash or a test timeout
// (which skips cleanups) — by the next Start, which reaps what dead test
// processes left behind, using the state files they wrote. Only processes the
// lab started (by PID) and namespaces it created (by name) are touched.
//
// Test binaries that use the lab must call Main from TestMain: the lab
// re-executes the test binary as its helper processes.
package lab
