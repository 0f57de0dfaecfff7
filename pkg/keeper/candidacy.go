package keeper

// standing is what the control-plane VIP's candidacy depends on: the
// node's health and, with --api-server-check, the readiness of the
// node's own API server. Service VIPs depend on health alone: a node
// whose local API server restarts keeps serving its Service VIPs.
type standing struct {
	healthy      bool   // every health check up, link up
	healthReason string // why not healthy
	checkAPI     bool   // --api-server-check is on
	apiReady     bool   // the local API server answered /readyz (rise/fall)
	apiReason    string // why not ready
}

// candidate is the one rule of the control-plane VIP's candidacy: the
// node is healthy and, when the check is on, its own API server is
// ready. A node that is no candidate does not campaign, releases the
// Lease if it holds it and must not hold the VIP (the tenure is told it
// is unhealthy, which also ends any ride through an API outage: the VIP
// fronts the API server, and a node whose own is not ready serves its
// clients nothing). reason and detail say why not, for the unbind.
func (s standing) candidate() (ok bool, reason Reason, detail string) {
	switch {
	case !s.healthy:
		return false, ReasonUnhealthy, s.healthReason
	case s.checkAPI && !s.apiReady:
		return false, ReasonAPIServerNotReady, s.apiReason
	}
	return true, "", ""
}
