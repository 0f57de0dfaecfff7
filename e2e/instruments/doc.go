// Package instruments measures a failover from the outside: a Prober that
// asks the VIP who serves it on a fresh connection every ~20 ms, an
// OwnerMonitor that samples which nodes hold the VIP every ~25 ms, and
// Summarize, which turns both into downtime, overlap and lost probes.
//
// The package knows nothing about namespaces: it dials with a DialFunc and
// asks an OwnersFunc, which the lab provides (lab.Lab.Record).
package instruments
