package config

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// urlUserinfo matches the user information of a URL written anywhere in a
// text, e.g. the "user:secret@" of https://user:secret@host/, up to the
// last '@' before the host (a password may hold '@' too).
var urlUserinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s"']*@`)

// redact hides the user information of every URL in s: a password or a
// token written into a URL must not reach an error message or a log. The
// whole user information goes, since a token often stands where the user
// name does.
func redact(s string) string {
	return urlUserinfo.ReplaceAllString(s, "${1}REDACTED@")
}

// printable escapes control characters (a newline, an escape sequence) in
// s, so that a value written into an error cannot forge log lines or
// terminal output.
func printable(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
