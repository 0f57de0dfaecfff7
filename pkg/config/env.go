package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// envPrefix starts every environment variable of a setting.
const envPrefix = "VIPKEEPER_"

// serviceLink matches the variables Kubernetes puts into every container
// of a namespace for each Service (service links): for a Service named
// vipkeeper or vipkeeper-<x>, VIPKEEPER[_<X>]_SERVICE_HOST,
// _SERVICE_PORT[_<PORT NAME>] and _PORT[_<N>_<PROTO>[_PROTO|_PORT|_ADDR]].
// They are not settings and never an error, whatever Services exist.
var serviceLink = regexp.MustCompile(`^VIPKEEPER(_[A-Z0-9_]+)?_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_[A-Z0-9_]+)?)$`)

// checkEnvironment refuses a VIPKEEPER_* variable that names no setting
// but is close to one: a typo would otherwise leave the setting at its
// default without a word. Variables far from every setting (other tools',
// service links) are left alone.
func checkEnvironment(environ []string) error {
	known := []string{EnvVar("config")}
	for _, o := range options {
		known = append(known, EnvVar(o.name))
	}
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		upper := strings.ToUpper(name)
		if !strings.HasPrefix(upper, envPrefix) || slices.Contains(known, name) || serviceLink.MatchString(name) {
			continue
		}
		normal := strings.ReplaceAll(upper, "-", "_")
		if near, ok := nearest(normal, known); ok {
			return &Error{Source: name, Err: fmt.Errorf("is not a setting; did you mean %s?", near)}
		}
	}
	return nil
}

// yamlKeys lists the config file's keys.
func yamlKeys() []string {
	keys := make([]string, 0, len(options))
	for _, o := range options {
		keys = append(keys, YAMLKey(o.name))
	}
	return keys
}

// nearest returns the name in names closest to s, if s looks like a
// misspelling of it: at most one edit away for a name of up to five
// characters after any VIPKEEPER_ prefix (VIP, VIPS), two for longer ones,
// ignoring case.
func nearest(s string, names []string) (string, bool) {
	best, bestD := "", -1
	for _, n := range names {
		a := strings.TrimPrefix(strings.ToLower(s), strings.ToLower(envPrefix))
		b := strings.TrimPrefix(strings.ToLower(n), strings.ToLower(envPrefix))
		limit := 2
		if len(b) <= 5 {
			limit = 1
		}
		if d := editDistance(a, b, limit); d <= limit && (bestD < 0 || d < bestD) {
			best, bestD = n, d
		}
	}
	return best, bestD >= 0
}

// editDistance is the optimal-string-alignment distance between a and b
// (insertions, deletions, substitutions and swaps of neighbours), or
// limit+1 once it is known to exceed limit.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
