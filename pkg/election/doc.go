// Package election campaigns for a coordination.k8s.io/v1 Lease with
// client-go's leaderelection and reports what happens as events.
//
// client-go's Run returns when the lease is lost; Elector wraps it so that
// the node campaigns again for the life of the process instead of exiting:
// every API outage longer than the renew deadline ends a term, and a node
// that left the election then would stay out of it until restarted. It
// decides nothing about the VIP: the node's state loop receives the events
// and binds or unbinds.
package election
