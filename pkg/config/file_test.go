package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStrictFile: what a config file may not hold, and what it means.
func TestStrictFile(t *testing.T) {
	for _, tt := range []struct {
		name, file, source, text string
	}{
		{"duplicate key", "leaseName: a\nleaseName: b\n", "config file /c.yaml: field leaseName", "given twice (lines 1 and 2)"},
		{"two documents", "leaseName: a\n---\nleaseName: b\n", "config file /c.yaml", "more than one YAML document (the second starts on line 2)"},
		{"an empty second document", "leaseName: a\n---\n", "config file /c.yaml", "more than one YAML document"},
		{"YAML 1.1 boolean", "services: yes\n", "config file /c.yaml: field services", `"yes" is not true or false`},
		{"bare number for a duration", "leaseDuration: 5\n", "config file /c.yaml: field leaseDuration", "has no unit"},
		{"alias", "leaseName: &n a\nleaseNamespace: *n\n", "config file /c.yaml: field leaseName", "anchors (&n) are not supported"},
		{"alias alone", "leaseNamespace: *n\n", "config file /c.yaml", "not valid YAML"},
		{"explicit tag", "nodeName: !!str no\n", "config file /c.yaml: field nodeName", "explicit tags (!!str) are not supported"},
		{"binary tag", "nodeName: !!binary bm8=\n", "config file /c.yaml: field nodeName", "explicit tags"},
		{"null", "logLevel: null\n", "config file /c.yaml: field logLevel", "has no value"},
		{"empty value", "logLevel:\n", "config file /c.yaml: field logLevel", "has no value"},
		{"a map as a value", "vip: {a: b}\n", "config file /c.yaml: field vip", "must be a single value"},
		{"a list for one value", "interface: [a, b]\n", "config file /c.yaml: field interface", "takes one value, not a list"},
		{"nested list", "vip: [[192.0.2.1]]\n", "config file /c.yaml: field vip", "must be a single value"},
		{"not a mapping", "- a\n", "config file /c.yaml", "must be a mapping"},
		{"a scalar document", "hello\n", "config file /c.yaml", "must be a mapping"},
		{"a key that is a list", "[a]: b\n", "config file /c.yaml", "a key must be a plain setting name"},
		{"unknown key, near one", "leaseDurration: 5s\n", "config file /c.yaml", `unknown field "leaseDurration" (line 1; did you mean leaseDuration?)`},
		{"unknown keys, sorted", "zz: 1\naa: 2\n", "config file /c.yaml", `unknown field "aa" (line 2), "zz" (line 1)`},
		{"merge key", "<<: {leaseName: a}\n", "config file /c.yaml", `unknown field "<<"`},
		{"syntax", "leaseName: [\n", "config file /c.yaml", "not valid YAML"},
		{"too large", "# " + strings.Repeat("x", maxFileSize) + "\n", "config file /c.yaml", "larger than 1024 KiB"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(sources(append([]string{"--config", "/c.yaml"}, minimal...), nil, map[string]string{"/c.yaml": tt.file}))
			if c != nil {
				t.Error("Load returned a Config with its error")
			}
			checkLoadError(t, err, tt.source, tt.text)
		})
	}
}

// TestFileScalarsAsWritten: YAML 1.1 conversions do not happen; a value
// is the text written.
func TestFileScalarsAsWritten(t *testing.T) {
	runLoadCases(t, []loadCase{
		{name: "no stays no", args: []string{"--config", "/c.yaml"},
			files: map[string]string{"/c.yaml": "vip: [192.0.2.100]\ninterface: eth0\nnodeName: no\n"},
			want:  func(c *Config) { c.NodeName = "no" }},
		{name: "off stays off", args: []string{"--config", "/c.yaml"},
			files: map[string]string{"/c.yaml": "vip: [192.0.2.100]\ninterface: eth0\nnodeName: off\n"},
			want:  func(c *Config) { c.NodeName = "off" }},
		{name: "a leading zero stays", args: []string{"--config", "/c.yaml"},
			files: map[string]string{"/c.yaml": "vip: [192.0.2.100]\ninterface: eth0\nnodeName: 012345\n"},
			want:  func(c *Config) { c.NodeName = "012345" }},
		{name: "quoted and flow styles", args: []string{"--config", "/c.yaml"},
			files: map[string]string{"/c.yaml": "{\"vip\": ['192.0.2.100'], interface: \"eth0\", services: false}\n"},
			want:  func(*Config) {}},
		{name: "a document marker and comments", args: []string{"--config", "/c.yaml"},
			files: map[string]string{"/c.yaml": "# vipkeeper\n---\nvip: [192.0.2.100] # the VIP\ninterface: eth0\n...\n"},
			want:  func(*Config) {}},
		{name: "only a document marker", args: append([]string{"--config", "/c.yaml"}, minimal...),
			files: map[string]string{"/c.yaml": "---\n"},
			want:  func(*Config) {}},
	})
}

// TestReadFileBounded: the real reader stops after the limit, so an
// endless file fails at once.
func TestReadFileBounded(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	_, err := Load(Sources{Args: append([]string{"--config", "/dev/zero"}, minimal...), LookupEnv: func(string) (string, bool) { return "", false }})
	checkLoadError(t, err, "config file /dev/zero", "larger than 1024 KiB")

	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("vip: [192.0.2.100]\ninterface: eth0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(Sources{Args: []string{"--config", path}, LookupEnv: func(string) (string, bool) { return "", false },
		Hostname: func() (string, error) { return "host-a", nil }}); err != nil {
		t.Errorf("a small file: %v", err)
	}
	_, err = Load(Sources{Args: append([]string{"--config", filepath.Join(t.TempDir(), "missing.yaml")}, minimal...),
		LookupEnv: func(string) (string, bool) { return "", false }})
	var ce *Error
	if !errors.As(err, &ce) || ce.Source != "--config" || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
}
