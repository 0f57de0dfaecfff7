package ifname

import (
	"errors"
	"fmt"
	"unicode"
)

// MaxLen is IFNAMSIZ (16) less the terminating NUL: the longest name the
// kernel accepts.
const MaxLen = 15

// ErrInvalid is wrapped by every error of Check.
var ErrInvalid = errors.New("not a valid interface name")

// Check reports whether name can be a Linux interface name. It applies the
// kernel's own rule (dev_valid_name: 1 to 15 bytes, not "." or "..", no
// '/', ':' or white space) and also refuses control characters, which no
// tool creates and which would end up raw in logs and /sys paths.
func Check(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty: %w", ErrInvalid)
	case len(name) > MaxLen:
		return fmt.Errorf("%q is longer than %d bytes: %w", name, MaxLen, ErrInvalid)
	case name == "." || name == "..":
		return fmt.Errorf("%q: %w", name, ErrInvalid)
	}
	for _, r := range name {
		if r == '/' || r == ':' || unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar {
			return fmt.Errorf("%q holds %q: %w", name, r, ErrInvalid)
		}
	}
	return nil
}
