package manifest

import (
	"fmt"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"github.com/vipkeeper/vipkeeper/pkg/config"
)

// The generated files are data: YAML built by a marshaller, a unit file
// and comment headers built from the settings. What a marshaller cannot
// make safe is refused here, each refusal naming the flag:
//   - a control character (a newline above all) or a Unicode line
//     separator in any value: it would end a comment line in a header and
//     start a line of its own, e.g. a second leaseName in the config file
//     or a directive in the unit;
//   - a relative path where the consumer needs an absolute one: a hostPath
//     volume, and the unit, whose working directory is / and not the
//     directory the manifest was made in;
//   - in the unit, a path with whitespace, a quote or a backslash (systemd
//     strips or interprets them, and a trailing backslash continues the
//     line); a % is escaped as %%, so that no specifier is expanded.

// checkSettings refuses a setting value that cannot be written safely
// into a generated file (see above), and a relative file path.
func checkSettings(cfg *config.Config) error {
	files := fileOptions()
	for _, s := range cfg.Settings() {
		for _, v := range s.Values {
			if err := checkText(v); err != nil {
				return fmt.Errorf("--%s %q: %w; it cannot be written safely into a generated file", s.Name, v, err)
			}
			if files[s.Name] && v != "" {
				if err := checkAbsolute(v); err != nil {
					return fmt.Errorf("--%s %q: %w", s.Name, v, err)
				}
			}
		}
	}
	return nil
}

// checkText refuses invalid UTF-8, control characters (newline, carriage
// return, tab, NUL, …) and the Unicode line and paragraph separators,
// which YAML 1.1 parsers take for line breaks.
func checkText(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("not valid UTF-8")
	}
	if i := strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
	}); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return fmt.Errorf("holds the control character %U at byte %d", r, i)
	}
	return nil
}

// checkAbsolute refuses a path that is relative or not in its clean form
// (a "..", a "//", a trailing "/"): kubelet refuses such a hostPath, and
// the unit runs in /, not where the manifest was made.
func checkAbsolute(p string) error {
	if !path.IsAbs(p) {
		return fmt.Errorf("must be an absolute path: the file is read by the pod or the unit, not in the directory the manifest is made in")
	}
	if path.Clean(p) != p {
		return fmt.Errorf("write it as %s (no \"..\", \"//\" or trailing \"/\")", path.Clean(p))
	}
	return nil
}

// unitPath returns p for a unit-file setting: absolute and clean, no
// whitespace, quote or backslash, and every % doubled, so that systemd
// reads back exactly p.
func unitPath(flag, p string) (string, error) {
	if err := checkText(p); err != nil {
		return "", fmt.Errorf("%s %q: %w", flag, p, err)
	}
	if err := checkAbsolute(p); err != nil {
		return "", fmt.Errorf("%s %q: %w", flag, p, err)
	}
	if i := strings.IndexFunc(p, func(r rune) bool { return unicode.IsSpace(r) || strings.ContainsRune(`"'\`, r) }); i >= 0 {
		return "", fmt.Errorf("%s %q: a unit file cannot hold %q in a path safely; move the file to a path without it", flag, p, p[i])
	}
	return strings.ReplaceAll(p, "%", "%%"), nil
}

// fileOptions are the `run` options whose values are file paths.
func fileOptions() map[string]bool {
	files := map[string]bool{}
	config.FlagSet("run").VisitAll(func(f *pflag.Flag) {
		if f.Name != "config" && (f.Value.Type() == "file" || f.Value.Type() == "files") {
			files[f.Name] = true
		}
	})
	return files
}
