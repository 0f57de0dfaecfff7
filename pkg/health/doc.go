// Package health decides whether this node is fit to hold the virtual IP.
//
// A [Prober] runs a set of checks — HTTP(S) GET with an accepted status range
// and ICMP echo — every Config.Interval, each bounded by Config.Timeout, and
// tracks the carrier of one network interface. It reports an aggregate
// [Status] that is healthy only when every check is up and the link is up.
//
// # Rise and fall
//
// Each check is up or down. A down check comes up after Config.Rise
// consecutive good probes; an up check goes down after Config.Fall consecutive
// failed probes. A single bad probe therefore never moves the VIP (cilium#26586,
// metallb#598: flapping), and a dead check stops the node from campaigning
// within Fall × Interval.
//
// # Start state
//
// Every check starts down, so a node with checks configured starts UNHEALTHY
// and becomes healthy only after Rise good probes of every check (the first
// probe runs at once, the next ones every Interval: healthy after about
// (Rise-1) × Interval). A freshly started node whose local API server is dead
// never campaigns. With no checks and no link tracking the node is healthy at
// once; with no checks and link tracking it is healthy as soon as the first
// reading of the link says it is up.
//
// # Link tracking
//
// When Config.Interface is set, the prober subscribes to rtnetlink link
// events (listing the existing links) and also reads the interface's current
// state after every (re)subscription. The link is down when it is
// administratively down, has no carrier (IFF_LOWER_UP clear), reports an
// operational state of down, lowerlayerdown, notpresent, dormant or testing,
// is deleted, or is renamed away. A link going down makes the aggregate
// unhealthy at once, without fall hysteresis, with reason "link down"; the
// link coming back restores the link part at once and leaves every check's
// own state as it was. The kernel reports administrative changes at once but
// may hold back a carrier change for up to a second (linkwatch rate limit).
// If the subscription fails or its channel closes, the
// prober reads the current state and subscribes again after a short delay.
// This is the fix for a node with a dead NIC that keeps renewing its lease
// (cilium#35507).
//
// # Notifications
//
// The notify function given to [New] is called from Start's goroutine once
// with the initial state (immediately, or with link tracking after the first
// reading of the link) and then on every change of Healthy, LinkDown or a
// check's up state. Status.Reason is descriptive: a change of the reason alone
// (say "status 503" becoming "timeout") is not a change. notify must not
// block for long: results queue behind it.
//
// # Probes
//
// HTTP checks use one http.Client per check with keep-alives disabled, so
// every probe dials a fresh connection and a connection left dead by a
// network outage is never reused (kubernetes#87615). Proxies from the
// environment are not used and redirects are not followed: a 3xx status is
// judged by the status range like any other. An extra CA bundle
// (Check.CAFile) is added to the system roots, read once by New; TLS
// verification is skipped only when Check.InsecureSkipVerify says so.
//
// ICMP checks send one echo request per probe over a raw socket
// (privileged mode of github.com/prometheus-community/pro-bing), which needs
// CAP_NET_RAW. Sockets belong to the network namespace of the thread that
// opens them.
//
// # Flags
//
// [ParseHTTPCheck] accepts "URL" or "URL,status=MIN-MAX" (or
// ",status=CODE"); [ParseICMPCheck] accepts an IPv4 or IPv6 address.
// [ParseChecks] takes the raw values of the repeatable settings, splits each
// at commas like other list settings (a "status=…" item belongs to the URL
// before it; a comma inside a URL is written %2C) and names the checks
// http-0, http-1, …, icmp-0, … in order. Validation errors are [*FieldError]
// values whose Field is the suggested flag name without dashes
// ("health-interval").
//
// # Concurrency
//
// New starts nothing. Start runs one goroutine per check, one for link
// tracking and its own loop, which alone owns the check and link state and
// hands each notified Status over as a copy; nothing mutable is shared.
package health
