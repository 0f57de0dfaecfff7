// Package election campaigns for a coordination.k8s.io/v1 Lease with
// client-go's leaderelection and reports what happens as events.
//
// client-go's Run returns when the lease is lost; Elector wraps it so that
// the node campaigns again for the life of the process instead of exiting
// (see PITFALLS item 2). It decides nothing about the VIP: the node's state
// loop receives the events and binds or unbinds.
package election
