// Package apicheck tells whether this node's own kube-apiserver is ready,
// for the control-plane VIP's candidacy (--api-server-check): a node whose
// API server is dead, starting or shutting down must not hold the VIP that
// clients use to reach an API server.
//
// A [Checker] GETs /readyz of one server — the first --api-server,
// typically https://127.0.0.1:6443 — every Config.Interval, each probe
// bounded by Config.Timeout, and only 200 is ready; a failure's reason
// names the checks the server says fail ("status 500: shutdown"). Rise and fall are
// health.RiseFall's: the server turns ready after Config.Rise good probes
// in a row and not ready after Config.Fall failed ones. It starts not
// ready, so a node earns its candidacy only once its own API server
// answers; nothing about the VIP is needed for that, which is why the
// first `kubeadm init` does not deadlock (docs/deploy-static-pod.md).
//
// The client is kube.LocalClient: a transport of its own to exactly that
// server (the daemon's other clients fail over between every
// --api-server), verified with the kubeconfig's CA and its server's host
// name, and authenticated with the kubeconfig's credentials — /readyz is
// readable by every identity (system:public-info-viewer), and
// credentials keep the check working where anonymous requests are off.
// The requests carry the user agent "vipkeeper/VERSION (NODE)
// api-server-check", so the API server's audit log tells them apart from
// the watchdog's /readyz probes.
//
// notify is called from Start's goroutine on every change of readiness,
// and each change is logged: msg="local API server ready", or
// msg="local API server not ready" with the reason (also after the first
// failed probe, so a node that never becomes ready says why).
//
// New starts nothing; Start runs the loop until its context ends.
package apicheck
