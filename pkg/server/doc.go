// Package server serves vipkeeper's HTTP endpoints on one listener:
// /metrics (Prometheus), /healthz (liveness: the process and its loops
// answer) and /readyz (readiness: the election runs and the API server is
// reachable).
//
// Health checks are plain func(*http.Request) error, as in
// controller-runtime's healthz: an endpoint answers 200 "ok" when every
// check returns nil, and 500 with one "[-]name failed: reason" line per
// failing check otherwise; ?verbose lists every check. The listener is
// opened by Listen, before anything starts, so a bad or busy address is a
// start-up error; Start serves until its context ends.
package server
