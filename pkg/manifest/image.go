package manifest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Limits of an image reference, as registries apply them.
const (
	maxImageName = 255 // the repository name, registry included
	maxImageTag  = 128
	digestHexLen = 64 // a sha256 digest in hex
)

// CheckImage refuses an image reference that is not
// [REGISTRY[:PORT]/]PATH(:TAG|@sha256:DIGEST|:TAG@sha256:DIGEST): PATH of
// lowercase components separated by "/", each letters and digits joined
// by ".", "_", "__" or dashes; TAG up to 128 letters, digits, "_", "."
// and "-", not starting with "." or "-"; DIGEST 64 lowercase hex digits.
// A tag or a digest is required: without one every node pulls whatever
// :latest is on the day it starts the pod.
func CheckImage(ref string) error {
	err := checkImage(ref)
	if err != nil {
		return fmt.Errorf("--image %q: %w; want REGISTRY/NAME:TAG or REGISTRY/NAME@sha256:<64 hex digits>, e.g. %s:v1.2.3", ref, err, DefaultImageRepo)
	}
	return nil
}

func checkImage(ref string) error {
	if ref == "" {
		return errors.New("empty")
	}
	rest, digest, hasDigest := strings.Cut(ref, "@")
	if hasDigest {
		hex, ok := strings.CutPrefix(digest, "sha256:")
		if !ok || len(hex) != digestHexLen || strings.Trim(hex, "0123456789abcdef") != "" {
			return fmt.Errorf("digest %q is not sha256: and %d lowercase hex digits", digest, digestHexLen)
		}
	}
	name, tag, hasTag := rest, "", false
	if i := strings.LastIndexByte(rest, ':'); i > strings.LastIndexByte(rest, '/') {
		name, tag, hasTag = rest[:i], rest[i+1:], true
	}
	if hasTag {
		if err := checkTag(tag); err != nil {
			return err
		}
	}
	if !hasTag && !hasDigest {
		return errors.New("no tag and no digest")
	}
	if len(name) > maxImageName {
		return fmt.Errorf("the name is %d characters long, more than %d", len(name), maxImageName)
	}
	parts := strings.Split(name, "/")
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost") {
		if err := checkRegistry(parts[0]); err != nil {
			return err
		}
		parts = parts[1:]
	}
	for _, p := range parts {
		if !pathComponent(p) {
			return fmt.Errorf("%q is not a repository path component (lowercase letters and digits, joined by \".\", \"_\", \"__\" or dashes)", p)
		}
	}
	return nil
}

func checkTag(tag string) error {
	ok := tag != "" && len(tag) <= maxImageTag && tag[0] != '.' && tag[0] != '-'
	for _, r := range tag {
		ok = ok && (isAlnum(r) || r == '_' || r == '.' || r == '-')
	}
	if !ok {
		return fmt.Errorf("tag %q is not 1 to %d letters, digits, \"_\", \".\" or \"-\" (not starting with \".\" or \"-\")", tag, maxImageTag)
	}
	return nil
}

// checkRegistry checks HOST[:PORT], HOST a DNS name or [IPv6].
func checkRegistry(reg string) error {
	host, port := reg, ""
	if strings.HasPrefix(reg, "[") {
		end := strings.IndexByte(reg, ']')
		if end < 0 {
			return fmt.Errorf("registry %q: unclosed [", reg)
		}
		host, port = reg[:end+1], strings.TrimPrefix(reg[end+1:], ":")
		if inner := host[1 : len(host)-1]; inner == "" || strings.Trim(inner, "0123456789abcdefABCDEF:.") != "" {
			return fmt.Errorf("registry %q: %q is not an IPv6 address", reg, inner)
		}
		if port == "" && len(reg) > end+1 {
			return fmt.Errorf("registry %q: empty port", reg)
		}
	} else if h, p, ok := strings.Cut(reg, ":"); ok {
		host, port = h, p
		if port == "" {
			return fmt.Errorf("registry %q: empty port", reg)
		}
		for _, label := range strings.Split(host, ".") {
			if !dnsLabel(label) {
				return fmt.Errorf("registry %q: %q is not a DNS label", reg, label)
			}
		}
	} else {
		for _, label := range strings.Split(host, ".") {
			if !dnsLabel(label) {
				return fmt.Errorf("registry %q: %q is not a DNS label", reg, label)
			}
		}
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return fmt.Errorf("registry %q: port %q is not 1-65535", reg, port)
		}
	}
	return nil
}

// dnsLabel: letters, digits and inner dashes.
func dnsLabel(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, r := range s {
		if !isAlnum(r) && r != '-' {
			return false
		}
	}
	return true
}

// pathComponent: lowercase letters and digits, runs of them joined by one
// ".", one "_", "__" or any number of dashes.
func pathComponent(s string) bool {
	if s == "" {
		return false
	}
	prevSep := true // no separator first
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			prevSep = false
			i++
		case c == '.' || c == '_' || c == '-':
			if prevSep {
				return false
			}
			n := 1
			switch c {
			case '_':
				if i+1 < len(s) && s[i+1] == '_' {
					n = 2
				}
			case '-':
				for i+n < len(s) && s[i+n] == '-' {
					n++
				}
			}
			i += n
			prevSep = true
		default:
			return false
		}
	}
	return !prevSep
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}
