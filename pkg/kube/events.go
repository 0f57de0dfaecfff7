package kube

import "time"

// Events client limits. A failover makes a handful of Events and the
// recorder's spam filter bounds a flapping node further; 2 requests/s
// with a burst of 5 lets a failover's Events out at once while a storm
// of them can never compete with anything else for the API server.
const (
	eventsQPS   = 2
	eventsBurst = 5
	// eventsTimeout bounds one Event write; the recorder retries later.
	eventsTimeout = 5 * time.Second
)
