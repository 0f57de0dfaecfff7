// Package keeper is the loop that owns the node's state. Election events,
// the binder's restore notices and shutdown reach it as events; it alone
// decides to bind and announce the VIP (after winning) or to withdraw and
// unbind it (after losing, and before the lease is released on shutdown).
package keeper
