package doctor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// ErrNoDefaultRoute is returned by DefaultInterface when the node has no
// usable default route.
var ErrNoDefaultRoute = errors.New("no default route")

// Route flags from <linux/route.h>.
const (
	rtfUp     = 0x1
	rtfReject = 0x200
)

// maxRouteLines bounds how much of a routing table is read: a node with
// more routes than this has its default route near the top anyway, since
// the kernel lists the main table in order.
const maxRouteLines = 100000

// DefaultInterface returns the interface of the default route with the
// lowest metric, IPv4 first, then IPv6, read from proc/net/route and
// proc/net/ipv6_route under fsys (a filesystem rooted at "/").
func DefaultInterface(fsys fs.FS) (string, error) {
	for _, t := range []struct {
		path  string
		parse func([]byte) (string, bool)
	}{
		{"proc/net/route", defaultRoute4},
		{"proc/net/ipv6_route", defaultRoute6},
	} {
		b, err := fs.ReadFile(fsys, t.path)
		if err != nil && !notPresent(err) {
			return "", fmt.Errorf("reading routes: %w", err)
		}
		if iface, ok := t.parse(b); ok {
			return iface, nil
		}
	}
	return "", ErrNoDefaultRoute
}

// defaultRoute4 finds the default route in /proc/net/route:
//
//	Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT
//	eth0  00000000    0102000A 0003 0      0   100    00000000 0 0 0
func defaultRoute4(b []byte) (string, bool) {
	return bestRoute(b, func(f []string) (string, uint64, bool) {
		if len(f) < 8 || f[1] != "00000000" || f[7] != "00000000" {
			return "", 0, false
		}
		flags, err1 := strconv.ParseUint(f[3], 16, 32)
		metric, err2 := strconv.ParseUint(f[6], 10, 32)
		if err1 != nil || err2 != nil || flags&rtfUp == 0 || flags&rtfReject != 0 {
			return "", 0, false
		}
		return f[0], metric, true
	})
}

// defaultRoute6 finds the default route in /proc/net/ipv6_route: destination,
// its prefix length, source, its prefix length, next hop, metric, refcount,
// use, flags (all hex) and the interface.
func defaultRoute6(b []byte) (string, bool) {
	const zero = "00000000000000000000000000000000"
	return bestRoute(b, func(f []string) (string, uint64, bool) {
		if len(f) < 10 || f[0] != zero || f[1] != "00" {
			return "", 0, false
		}
		metric, err1 := strconv.ParseUint(f[5], 16, 32)
		flags, err2 := strconv.ParseUint(f[8], 16, 32)
		if err1 != nil || err2 != nil || flags&rtfUp == 0 || flags&rtfReject != 0 || f[9] == "lo" {
			return "", 0, false
		}
		return f[9], metric, true
	})
}

// bestRoute returns the interface of the matching line with the lowest
// metric; match returns ok false for lines that are not a usable default
// route, such as the header.
func bestRoute(b []byte, match func([]string) (iface string, metric uint64, ok bool)) (string, bool) {
	best, bestMetric, found := "", uint64(0), false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 0; sc.Scan() && n < maxRouteLines; n++ {
		iface, metric, ok := match(strings.Fields(sc.Text()))
		if !ok || validInterfaceName(iface) != nil {
			continue
		}
		if !found || metric < bestMetric {
			best, bestMetric, found = iface, metric, true
		}
	}
	return best, found
}
