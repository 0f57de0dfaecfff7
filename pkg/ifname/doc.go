// Package ifname holds the one rule for what a Linux network interface name
// may be. The configuration, the health prober and `vipkeeper doctor` all
// check names with [Check], so a name one of them accepts is never refused
// (or, worse, turned into a path) by another.
package ifname
