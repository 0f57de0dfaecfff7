package config

import "regexp"

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
