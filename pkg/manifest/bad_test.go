package manifest_test

import (
	"strings"
	"testing"

	"github.com/vipkeeper/vipkeeper/pkg/manifest"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// TestBadInputs: every value that cannot be written safely into a
// generated file is refused, with an error naming its flag, and nothing is
// rendered. (Values YAML must escape are accepted and round-trip:
// TestConfigFileRoundTrip; a % in the unit is escaped: TestSystemdVerify.)
func TestBadInputs(t *testing.T) {
	kc := func(k string) []string { return []string{"--kubeconfig", k} }
	tests := []struct {
		name  string
		kind  manifest.Kind
		args  []string
		o     manifest.Options
		want  string // the flag the error names
		about string // and a fragment of the reason
	}{
		{"a newline in the kubeconfig path would add a YAML line to the header", manifest.Config,
			kc("/etc/vk/kubeconfig\nleaseName: evil"), manifest.Options{}, "--kubeconfig", "U+000A"},
		{"a newline in a file path of a static pod", manifest.StaticPod,
			append(kc("/etc/kubernetes/admin.conf"), "--health-http", "https://192.0.2.1:6443/readyz", "--health-ca-file", "/etc/ca.crt\n# x"), manifest.Options{}, "--health-ca-file", "U+000A"},
		{"a newline in the unit's kubeconfig would add a directive", manifest.Systemd,
			kc("/etc/vk/kubeconfig\nExecStartPre=/bin/sh -c id"), manifest.Options{}, "--kubeconfig", "U+000A"},
		{"a tab", manifest.Config, append(kc("/etc/vk/kubeconfig"), "--health-http", "https://192.0.2.1:6443/readyz", "--health-ca-file", "/etc/ca\t.crt"), manifest.Options{}, "--health-ca-file", "U+0009"},
		{"a NUL", manifest.Config, append(kc("/etc/vk/kubeconfig"), "--health-http", "https://192.0.2.1:6443/readyz", "--health-ca-file", "/etc/ca\x00.crt"), manifest.Options{}, "--health-ca-file", "U+0000"},
		{"a Unicode line separator (a line break to YAML 1.1)", manifest.Config,
			append(kc("/etc/vk/kubeconfig"), "--health-http", "https://192.0.2.1:6443/readyz", "--health-ca-file", "/etc/ca\u2028leaseName: x"), manifest.Options{}, "--health-ca-file", "U+2028"},
		{"a next-line character (C1 control)", manifest.Config,
			append(kc("/etc/vk/kubeconfig"), "--health-http", "https://192.0.2.1:6443/readyz", "--health-ca-file", "/etc/ca\u0085.crt"), manifest.Options{}, "--health-ca-file", "U+0085"},
		{"invalid UTF-8", manifest.Config, append(kc("/etc/vk/kubeconfig"), "--health-http", "https://192.0.2.1:6443/readyz", "--health-ca-file", "/etc/ca\xff.crt"), manifest.Options{}, "--health-ca-file", "UTF-8"},
		{"a relative kubeconfig in a static pod (hostPath)", manifest.StaticPod, kc("admin.conf"), manifest.Options{}, "--kubeconfig", "absolute"},
		{"a relative kubeconfig in a DaemonSet (hostPath)", manifest.DaemonSet, kc("./admin.conf"), manifest.Options{}, "--kubeconfig", "absolute"},
		{"a relative kubeconfig in the unit (a credential-store name to systemd)", manifest.Systemd, kc("kubeconfig"), manifest.Options{}, "--kubeconfig", "absolute"},
		{"a relative CA file in the unit's config (the unit runs in /)", manifest.Config,
			append(kc("/etc/vk/kubeconfig"), "--health-http", "https://192.0.2.1:6443/readyz", "--health-ca-file", "pki/ca.crt"), manifest.Options{}, "--health-ca-file", "absolute"},
		{"a path with ..", manifest.StaticPod, kc("/etc/kubernetes/../kubernetes/admin.conf"), manifest.Options{}, "--kubeconfig", "/etc/kubernetes/admin.conf"},
		{"a path with a trailing slash", manifest.Systemd, kc("/etc/vk/"), manifest.Options{}, "--kubeconfig", "/etc/vk"},
		{"a space in the unit's kubeconfig (systemd strips it at the end)", manifest.Systemd, kc("/etc/vk/my kubeconfig"), manifest.Options{}, "--kubeconfig", "' '"},
		{"a quote in the unit's kubeconfig", manifest.Systemd, kc(`/etc/vk/"kubeconfig"`), manifest.Options{}, "--kubeconfig", `'"'`},
		{"a backslash in the unit's kubeconfig (a trailing one continues the line)", manifest.Systemd, kc(`/etc/vk/kubeconfig\`), manifest.Options{}, "--kubeconfig", `'\\'`},
		{"a relative ExecStart binary", manifest.Systemd, kc("/etc/vk/kubeconfig"), manifest.Options{Binary: "bin/vipkeeper"}, "the binary's path", "absolute"},
		{"a relative --config in ExecStart", manifest.Systemd, kc("/etc/vk/kubeconfig"), manifest.Options{ConfigFile: "config.yaml"}, "the config file's path", "absolute"},
		{"a newline in the header's command line", manifest.RBAC, nil, manifest.Options{Command: "vipkeeper manifest rbac\nkind: Secret"}, "command line", "U+000A"},
		{"an image with a newline", manifest.DaemonSet, nil, manifest.Options{Image: "ghcr.io/vipkeeper/vipkeeper:v1\n# x"}, "--image", "tag"},
		{"an unknown kind", "helm", nil, manifest.Options{}, "unknown kind", "static-pod"},
		{"a static pod without a kubeconfig", manifest.StaticPod, nil, manifest.Options{}, "--kubeconfig", "ServiceAccount"},
		{"a node name in a static pod", manifest.StaticPod, append(kc("/k"), "--node-name", "n1", "--api-server", "https://127.0.0.1:6443"), manifest.Options{}, "--node-name", "spec.nodeName"},
		{"a static pod without --api-server: its check has no local API server", manifest.StaticPod, kc("/k"), manifest.Options{},
			"--api-server-check, on by default in a static pod (--api-server-check=false turns it off)", "checks the first --api-server"},
		{"a node name in a DaemonSet", manifest.DaemonSet, []string{"--node-name", "n1"}, manifest.Options{}, "--node-name", "spec.nodeName"},
		{"the unit without a kubeconfig", manifest.Systemd, nil, manifest.Options{}, "--kubeconfig", "credential"},
		{"the config file without a kubeconfig", manifest.Config, nil, manifest.Options{}, "--kubeconfig", "unit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.o.Image == "" {
				tt.o.Image = "registry.example/vipkeeper:test"
			}
			out, err := manifest.Generate(tt.kind, load(t, tt.args...), tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.about) {
				t.Errorf("Generate = %v; want an error naming %q, about %q", err, tt.want, tt.about)
			}
			if out != nil {
				t.Errorf("rendered %q on error", out)
			}
		})
	}
}

func TestCheckImage(t *testing.T) {
	long := strings.Repeat("a", 256)
	tests := []struct {
		ref  string
		want string // "" for accepted, else a fragment of the error
	}{
		{"ghcr.io/vipkeeper/vipkeeper:v1.2.3", ""},
		{"ghcr.io/vipkeeper/vipkeeper:v0.1.0-3-gabc1234-dirty", ""},
		{"vipkeeper:latest", ""},
		{"localhost:5000/vipkeeper:dev", ""},
		{"localhost/vipkeeper:dev", ""},
		{"[2001:db8::1]:5000/vipkeeper:1", ""},
		{"Registry.Example:443/a/b__c/d-e--f/g.h_i:1.0_RC-1", ""},
		{"ghcr.io/vipkeeper/vipkeeper@" + digest, ""},
		{"ghcr.io/vipkeeper/vipkeeper:v1@" + digest, ""},
		{"", "empty"},
		{"ghcr.io/vipkeeper/vipkeeper", "no tag and no digest"},
		{"localhost:5000/vipkeeper", "no tag and no digest"},
		{"ghcr.io/VipKeeper/vipkeeper:v1", `"VipKeeper"`},
		{"ghcr.io//vipkeeper:v1", `""`},
		{"ghcr.io/vip..keeper:v1", "path component"},
		{"ghcr.io/vipkeeper-:v1", "path component"},
		{"ghcr.io/_vipkeeper:v1", "path component"},
		{"ghcr.io/vip___keeper:v1", "path component"},
		{"ghcr.io/vipkeeper/:v1", "path component"},
		{"ghcr.io/vip keeper:v1", "path component"},
		{"ghcr.io/vipkeeper:.v1", "tag"},
		{"ghcr.io/vipkeeper:-v1", "tag"},
		{"ghcr.io/vipkeeper:v1+build", "tag"},
		{"ghcr.io/vipkeeper:" + strings.Repeat("1", 129), "tag"},
		{"ghcr.io/vipkeeper:", "tag"},
		{"ghcr.io/vipkeeper:v1\n", "tag"},
		{"ghcr.io/vipkeeper@sha512:" + strings.Repeat("0", 128), "digest"},
		{"ghcr.io/vipkeeper@sha256:" + strings.Repeat("0", 63), "digest"},
		{"ghcr.io/vipkeeper@sha256:" + strings.ToUpper(strings.Repeat("ab", 32)), "digest"},
		{"ghcr.io/vipkeeper:v1@" + digest + "@" + digest, "digest"},
		{"ghcr.io:0/vipkeeper:v1", "port"},
		{"ghcr.io:99999/vipkeeper:v1", "port"},
		{"ghcr.io:/vipkeeper:v1", "port"},
		{"-ghcr.io/vipkeeper:v1", "DNS label"},
		{"ghcr..io/vipkeeper:v1", "DNS label"},
		{"[2001:db8::1/vipkeeper:v1", "unclosed"},
		{"[]:5000/vipkeeper:v1", "IPv6"},
		{"r.example/" + long + ":v1", "255"},
	}
	for _, tt := range tests {
		err := manifest.CheckImage(tt.ref)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckImage(%q) = %v, want nil", tt.ref, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "--image ")):
			t.Errorf("CheckImage(%q) = %v, want an --image error about %q", tt.ref, err, tt.want)
		}
	}
}

// FuzzCheckImage: an accepted reference holds nothing a YAML value, a
// comment or a command line could trip on, and has a tag or a digest.
func FuzzCheckImage(f *testing.F) {
	for _, s := range []string{"ghcr.io/vipkeeper/vipkeeper:v1.2.3", "localhost:5000/a:b", "[2001:db8::1]:5000/a:1", "a@" + digest, "a:b\nc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		if manifest.CheckImage(ref) != nil {
			return
		}
		if strings.ContainsFunc(ref, func(r rune) bool { return r <= ' ' || r > '~' || strings.ContainsRune(`"'\#;&|$`+"`", r) }) {
			t.Errorf("accepted %q", ref)
		}
		last := ref[strings.LastIndexByte(ref, '/')+1:]
		if !strings.ContainsAny(last, ":@") {
			t.Errorf("accepted %q without a tag or digest", ref)
		}
	})
}
