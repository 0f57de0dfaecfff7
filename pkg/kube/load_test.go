package kube

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kubeconfigFile writes a kubeconfig with the given server and CA data
// (base64, as a kubeconfig holds it) and returns its path.
func kubeconfigFile(t *testing.T, server, caData string) string {
	t.Helper()
	ca := ""
	if caData != "" {
		ca = "\n    certificate-authority-data: " + caData
	}
	text := `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: "` + server + `"` + ca + `
users:
- name: u
  user:
    token: t
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
`
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadRefusesWhatCannotWork(t *testing.T) {
	for _, tt := range []struct {
		name, server, ca, want string
	}{
		{"plain http", "http://192.0.2.1:6443", "", "want https://host[:port]"},
		{"ftp", "ftp://192.0.2.1", "", "want https://host[:port]"},
		{"port 0", "https://192.0.2.1:0", "", `port "0" is not a number from 1 to 65535`},
		{"port 99999", "https://192.0.2.1:99999", "", `port "99999"`},
		{"empty port", "https://192.0.2.1:", "", `port ""`},
		{"a CA that is not PEM", "https://192.0.2.1:6443", "bm90IGEgY2VydGlmaWNhdGU=", "TLS settings"},
		{"a password in the server", "http://admin:s3cret@192.0.2.1", "", "REDACTED"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(kubeconfigFile(t, tt.server, tt.ca))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load = %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
	if _, err := Load(kubeconfigFile(t, "https://192.0.2.1:6443", "")); err != nil {
		t.Errorf("a good kubeconfig: %v", err)
	}
}
