// Package watchdog tells whether the API server answers and is the one
// place of the daemon's API-outage policy: when to leave the API server in
// use, when and how to heal after an outage, and whom to tell.
//
// It listens before it speaks: the daemon's own Lease traffic (the
// holder's renewals, the Lease watches' events, one per retry period while
// a holder is named) is its evidence, and only when that is missing, stale
// or a failure does it probe /readyz, from a client of its own with a
// short timeout. How stale evidence may get is bounded so that an API
// server that hangs is still judged unreachable before a holder's deadline
// (EvidenceWindow; docs/safety.md). When the API becomes unreachable the
// elections are told they are blind (a silent watch proves nothing then).
//
// While the API server does not answer, the daemon leaves it for the next
// --api-server: once when FailAfter probes in a row have failed (the API is
// then unreachable), and again after every further FailAfter failures, so a
// second server that accepts connections but never answers cannot keep the
// daemon away from a third that works. When the API server answers again
// after an outage, the daemon heals without a restart or an operator: it
// drops the idle connections (a connection that lived through the outage
// may be dead without knowing it, and requests on it would hang until
// their timeout), restarts the Lease watches (a watch started during the
// outage may ride a dead connection until its window ends, and the node
// would miss a release meanwhile) and campaigns at once instead of waiting
// up to a retry period. Then it reports the change: metrics, the keeper, the services
// controller.
//
// The policy lives here rather than in pkg/kube because it is a function
// of the watchdog's own count of failed probes: one counter says both when
// the API is unreachable and when to fail over again. pkg/kube supplies
// the actions (Failover, CloseIdleConnections) and decides nothing;
// pkg/election supplies Reconnect and Kick.
package watchdog
