package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// sysctl names a kernel setting by its components under /proc/sys. It is a
// slice rather than a dotted string because interface names may contain
// dots (eth0.100).
type sysctl []string

// String returns the dotted name operators know, e.g. net.ipv4.vs.sloppy_tcp.
func (s sysctl) String() string { return strings.Join(s, ".") }

// path returns the file under a root filesystem.
func (s sysctl) path() string { return "proc/sys/" + strings.Join(s, "/") }

// dropInKey returns the key for a sysctl.d file: dotted, or slash-separated
// when a component holds a dot, which sysctl.d reads as a separator.
func (s sysctl) dropInKey() string {
	for _, c := range s {
		if strings.Contains(c, ".") {
			return strings.Join(s, "/")
		}
	}
	return s.String()
}

func global(parts ...string) func(string) sysctl {
	return func(string) sysctl { return parts }
}

func perInterface(family, name string) func(string) sysctl {
	return func(iface string) sysctl { return sysctl{"net", family, "conf", iface, name} }
}

// maxSysctlValue bounds what readValue accepts: every setting we read is a
// small integer, and a long value means a wrong file.
const maxSysctlValue = 64

// parseValue parses the content of an integer sysctl or /sys file.
func parseValue(b []byte) (int64, error) {
	if len(b) > maxSysctlValue {
		return 0, fmt.Errorf("value of %d bytes is too long", len(b))
	}
	s := strings.TrimSpace(string(b))
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not an integer: %q", s)
	}
	return v, nil
}

// readValue reads an integer file. An absent file returns an error
// wrapping fs.ErrNotExist.
func readValue(fsys fs.FS, path string) (int64, error) {
	b, err := fs.ReadFile(fsys, path)
	if err != nil {
		return 0, err
	}
	v, err := parseValue(b)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// readText reads a short text file such as /sys/class/net/eth0/operstate.
func readText(fsys fs.FS, path string) (string, error) {
	b, err := fs.ReadFile(fsys, path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func exists(fsys fs.FS, path string) bool {
	_, err := fs.Stat(fsys, path)
	return err == nil
}

// notPresent reports whether err says a file is missing.
func notPresent(err error) bool { return errors.Is(err, fs.ErrNotExist) }
