package tenure

import "time"

// Witness records the latest instant a peer of the Lease's group was heard
// on the VIP's link (pkg/witness). Reports may arrive late and out of
// order; an older one changes nothing. A gap between two reports longer
// than the window is remembered as a lapse: a ride the lapse interrupted
// is over for good, even if peers are heard again (see witnessed).
func (t *Tenure) Witness(heard time.Time) {
	if !heard.After(t.heard) {
		return
	}
	if w := t.cfg.WitnessWindow; !t.heard.IsZero() && heard.Sub(t.heard) >= w {
		t.lapse = t.heard.Add(w)
	}
	t.heard = heard
}

// Heard is the latest instant a peer was heard (zero: never).
func (t *Tenure) Heard() time.Time { return t.heard }

// Witnessed reports whether the holder has live evidence at now that a
// takeover would reach it on the VIP's link: a peer was heard less than
// WitnessWindow ago. Without a window (--witness none) there is nothing
// to wait for and it is always true.
func (t *Tenure) Witnessed(now time.Time) bool {
	w := t.cfg.WitnessWindow
	return w <= 0 || (!t.heard.IsZero() && now.Before(t.heard.Add(w)))
}

// witnessed is the witness rule of a ride: a holder keeps its addresses
// past its deadline only while it has live evidence (Witnessed) and has
// had it without a lapse since that deadline. The rider yields to a
// takeover it sees on the wire; one it cannot hear — its link to the
// peers is cut — only the deadline can stop, so without the evidence it
// behaves as under release. A lapse that ended before the deadline does
// not count: the node held by its Lease then.
func (t *Tenure) witnessed(now time.Time) bool {
	if t.cfg.WitnessWindow <= 0 {
		return true
	}
	return t.Witnessed(now) && (t.lapse.IsZero() || t.lapse.Before(t.Deadline()))
}

// witnessStale is when the evidence of now goes stale, zero without a
// window: the latest a rider must ask MayHold again.
func (t *Tenure) witnessStale() time.Time {
	if t.cfg.WitnessWindow <= 0 {
		return time.Time{}
	}
	return t.heard.Add(t.cfg.WitnessWindow)
}
