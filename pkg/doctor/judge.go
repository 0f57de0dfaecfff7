package doctor

import (
	"fmt"
	"io/fs"
	"strconv"
)

// reading is what a tunable's keys hold.
type reading struct {
	value   int64  // effective value
	current string // as shown, e.g. "1" or "1 (all=0, eth0=1)"
}

func readTunable(fsys fs.FS, iface string, t tunable) (reading, error) {
	v, err := readValue(fsys, t.key(iface).path())
	if err != nil {
		return reading{}, err
	}
	if !t.maxAll {
		return reading{value: v, current: strconv.FormatInt(v, 10)}, nil
	}
	a, err := readValue(fsys, t.key("all").path())
	if err != nil {
		return reading{}, err
	}
	e := max(a, v)
	return reading{value: e, current: fmt.Sprintf("%d (all=%d, %s=%d)", e, a, iface, v)}, nil
}

// judge reads a tunable and rates it. ok is false when there was no value
// to rate; the finding then says why.
func judge(fsys fs.FS, iface string, t tunable) (f Finding, r reading, ok bool) {
	f = Finding{Check: t.name, Setting: t.key(iface).String(), Recommended: t.recommended, Why: t.why}
	r, err := readTunable(fsys, iface, t)
	switch {
	case notPresent(err):
		f.Current, f.Severity = "not present", Info
		f.Why = "this kernel has no such setting; " + t.why
		return f, r, false
	case err != nil:
		f.Current, f.Severity = "unreadable", Warning
		f.Why = fmt.Sprintf("could not check: %v", err)
		return f, r, false
	}
	f.Current = r.current
	if !t.good(r.value) {
		f.Severity = t.bad
	}
	return f, r, true
}
