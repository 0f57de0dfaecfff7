// Package events reports the node's transitions as Kubernetes Events on the
// election's Lease, so `kubectl describe lease` and `kubectl get events`
// tell an operator who took the VIP, who gave it up and why.
//
// A [Recorder] is a keeper.Observer: Observe only queues (it runs on the
// keeper's loop) and Start writes the Events through client-go's
// tools/record broadcaster, on a client of its own. The broadcaster's
// correlator drops what a flapping node would flood the API server with: a
// token bucket per node and Lease (burst 10, then one Event every 30 s) and
// aggregation of similar Events. Events go to the core v1 API in the Lease's
// namespace, which takes RBAC "create" and "patch" on "events" (API group
// "") there; see docs/metrics.md.
//
// Events are best effort: they are dropped when the queue is full, when the
// API server stays unreachable (after client-go's retries) and, at shutdown,
// when they cannot be written within a short flush window.
package events
