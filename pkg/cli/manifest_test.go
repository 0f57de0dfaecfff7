package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var updateManifests = flag.Bool("update-manifests", false, "rewrite the files in manifests/ (make manifests)")

// exampleImage is the image the example manifests name.
const exampleImage = "--image=ghcr.io/vipkeeper/vipkeeper:latest"

// exampleServices makes the DaemonSet example a services-mode deployment;
// rbac-services.yaml, from the same flags, holds the RBAC it needs.
// rbac.yaml stays the control-plane RBAC of the static pod and the lab.
// They give the services Leases a namespace of their own, as a new
// install should (docs/services.md).
var exampleServices = []string{"--services", "--services-pool", "pool=default;addresses=203.0.113.0/24", "--services-namespace", "vipkeeper-system"}

// examples are the files in manifests/ and the commands that make them;
// documentation addresses only.
var examples = []struct {
	file string
	args []string
}{
	{"static-pod.yaml", []string{"manifest", "static-pod", exampleImage,
		"--kubeconfig", "/etc/kubernetes/admin.conf",
		"--api-server", "https://127.0.0.1:6443", "--api-server", "https://192.0.2.11:6443",
		"--api-server", "https://192.0.2.12:6443", "--api-server", "https://192.0.2.13:6443",
		"--vip", "192.0.2.100", "--interface", "eth0"}},
	{"daemonset.yaml", append([]string{"manifest", "daemonset", exampleImage, "--vip", "192.0.2.100", "--interface", "eth0"}, exampleServices...)},
	{"rbac.yaml", []string{"manifest", "rbac", "--vip", "192.0.2.100", "--interface", "eth0"}},
	{"rbac-services.yaml", append([]string{"manifest", "rbac", "--vip", "192.0.2.100", "--interface", "eth0"}, exampleServices...)},
	{"vipkeeper.service", []string{"manifest", "systemd", "--kubeconfig", "/etc/vipkeeper/kubeconfig", "--vip", "192.0.2.100", "--interface", "eth0"}},
	{"crds.yaml", []string{"manifest", "crds"}},
	{"config.yaml", []string{"manifest", "config", "--kubeconfig", "/etc/vipkeeper/kubeconfig", "--vip", "192.0.2.100", "--interface", "eth0"}},
}

func runManifest(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestManifestsUpToDate keeps manifests/ identical to what `vipkeeper
// manifest` prints. Regenerate with `make manifests`.
func TestManifestsUpToDate(t *testing.T) {
	for _, ex := range examples {
		t.Run(ex.file, func(t *testing.T) {
			code, out, errOut := runManifest(t, ex.args...)
			if code != exitOK {
				t.Fatalf("vipkeeper %s: exit %d: %s", strings.Join(ex.args, " "), code, errOut)
			}
			path := filepath.Join("..", "..", "manifests", ex.file)
			have, err := os.ReadFile(path)
			if *updateManifests && (err != nil || string(have) != out) {
				if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v (run `make manifests`)", err)
			}
			if diff := cmp.Diff(out, string(have)); diff != "" {
				t.Errorf("%s is stale; run `make manifests` (-generated +file):\n%s", path, diff)
			}
		})
	}
}

func TestManifestErrors(t *testing.T) {
	base := []string{"--vip", "192.0.2.100", "--interface", "eth0"}
	tests := []struct {
		name string
		args []string
		want int
		text string // in stderr
	}{
		{"no kind", []string{"manifest"}, exitUsage, "Usage"},
		{"unknown kind", append([]string{"manifest", "helm"}, base...), exitUsage, `unknown kind "helm"`},
		{"unknown kind, no run flags: the kind is the mistake", []string{"manifest", "bogus"}, exitUsage, `unknown kind "bogus"`},
		{"image without a tag", append([]string{"manifest", "daemonset", "--image", "ghcr.io/vipkeeper/vipkeeper"}, base...), exitUsage, `--image "ghcr.io/vipkeeper/vipkeeper": no tag`},
		{"image with a newline", append([]string{"manifest", "static-pod", "--kubeconfig", "/k", "--image=r.example/vk:v1\n#"}, base...), exitUsage, "--image"},
		{"relative kubeconfig in a static pod", append([]string{"manifest", "static-pod", "--kubeconfig", "admin.conf"}, base...), exitUsage, "--kubeconfig \"admin.conf\": must be an absolute path"},
		{"newline in a path", append([]string{"manifest", "config", "--kubeconfig", "/k\nleaseName: x"}, base...), exitUsage, "--kubeconfig"},
		{"invalid run flags", []string{"manifest", "rbac", "--vip", "192.0.2.100"}, exitUsage, "--interface"},
		{"api server is the VIP", append([]string{"manifest", "static-pod", "--kubeconfig", "/k", "--api-server", "https://192.0.2.100:6443"}, base...), exitUsage, "kube-vip#684"},
		{"static pod without kubeconfig", append([]string{"manifest", "static-pod"}, base...), exitUsage, "ServiceAccount"},
		{"systemd without kubeconfig", append([]string{"manifest", "systemd"}, base...), exitUsage, "--kubeconfig"},
		{"node name in a pod", append([]string{"manifest", "daemonset", "--node-name", "n1"}, base...), exitUsage, "spec.nodeName"},
		{"services without a pool", append([]string{"manifest", "rbac", "--services"}, base...), exitUsage, "--services-pool"},
		{"pool holds the VIP", append([]string{"manifest", "daemonset", "--services", "--services-pool", "pool=a;addresses=192.0.2.96/28"}, base...), exitUsage, "holds the VIP"},
		{"image without value", append([]string{"manifest", "daemonset"}, append(base, "--image")...), exitUsage, "--image needs a value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runManifest(t, tt.args...)
			if code != tt.want || !strings.Contains(errOut, tt.text) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q (stdout %q)", code, errOut, tt.want, tt.text, out)
			}
			if code != exitOK && out != "" {
				t.Errorf("printed a manifest on failure: %q", out)
			}
		})
	}
}

// TestManifestHeaderKeepsTheCheckOff: a static pod whose check was
// turned off says so in its header, so that the header's command renders
// the same file again.
func TestManifestHeaderKeepsTheCheckOff(t *testing.T) {
	code, out, errOut := runManifest(t, "manifest", "static-pod", "--kubeconfig", "/k", "--vip", "192.0.2.100", "--interface", "eth0", "--api-server-check=false")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	first, _, _ := strings.Cut(out, "\n")
	if !strings.HasSuffix(first, " --api-server-check=false") || strings.Contains(out, "- --api-server-check") {
		t.Errorf("header %q must end with --api-server-check=false and the pod must not check:\n%s", first, out)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"--vip=192.0.2.100":                               "--vip=192.0.2.100",
		"--api-server=https://127.0.0.1:6443":             "--api-server=https://127.0.0.1:6443",
		"--services-pool=pool=a;addresses=203.0.113.0/24": "'--services-pool=pool=a;addresses=203.0.113.0/24'",
		"--api-server=https://[2001:db8::1]:6443":         "'--api-server=https://[2001:db8::1]:6443'",
		"--metrics-addr=":                                 "--metrics-addr=",
		"":                                                "''",
		"--lease-name=it's":                               `'--lease-name=it'\''s'`,
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestManifestHelp(t *testing.T) {
	for _, args := range [][]string{{"manifest", "--help"}, {"manifest", "static-pod", "--help"}} {
		code, out, _ := runManifest(t, args...)
		if code != exitOK || !strings.Contains(out, "static-pod") {
			t.Errorf("%v: exit %d, stdout %q", args, code, out)
		}
	}
}

// TestManifestIgnoresEnvironment: the output depends on the command line
// alone.
func TestManifestIgnoresEnvironment(t *testing.T) {
	t.Setenv("VIPKEEPER_LEASE_NAME", "from-env")
	_, out, _ := runManifest(t, "manifest", "rbac", "--vip", "192.0.2.100", "--interface", "eth0")
	if strings.Contains(out, "from-env") {
		t.Errorf("the environment leaked into the manifest:\n%s", out)
	}
}
