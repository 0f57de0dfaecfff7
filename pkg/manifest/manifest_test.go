package manifest_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/vipkeeper/vipkeeper/pkg/config"
	"github.com/vipkeeper/vipkeeper/pkg/manifest"
)

func load(t *testing.T, args ...string) *config.Config {
	t.Helper()
	return loadArgs(t, append([]string{"--vip", "192.0.2.100", "--interface", "eth0"}, args...)...)
}

// loadArgs loads exactly args (load adds a VIP and an interface).
func loadArgs(t *testing.T, args ...string) *config.Config {
	t.Helper()
	c, err := config.Load(config.Sources{
		Args:      args,
		LookupEnv: func(string) (string, bool) { return "", false },
		Hostname:  func() (string, error) { return "node", nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var strict = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// decode parses every YAML document of out into typed objects, strictly:
// an unknown field fails.
func decode(t *testing.T, out []byte) []runtime.Object {
	t.Helper()
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(out)))
	var objs []runtime.Object
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatal(err)
		}
		obj, _, err := strict.Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("decode %s: %v", doc, err)
		}
		objs = append(objs, obj)
	}
}

func generate(t *testing.T, kind manifest.Kind, cfg *config.Config) []byte {
	t.Helper()
	out, err := manifest.Generate(kind, cfg, manifest.Options{Image: "registry.example/vipkeeper:test"})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestStaticPod(t *testing.T) {
	cfg := load(t, "--kubeconfig", "/etc/kubernetes/super-admin.conf", "--api-server", "https://127.0.0.1:6443",
		"--metrics-addr", "127.0.0.1:9100", "--lease-duration", "6s", "--health-http", "https://127.0.0.1:6443/livez", "--health-ca-file", "/etc/kubernetes/pki/ca.crt")
	objs := decode(t, generate(t, manifest.StaticPod, cfg))
	if len(objs) != 1 {
		t.Fatalf("%d objects, want one Pod", len(objs))
	}
	pod := objs[0].(*corev1.Pod)
	if pod.Namespace != "kube-system" || !pod.Spec.HostNetwork || pod.Spec.PriorityClassName != "system-node-critical" {
		t.Errorf("namespace %q hostNetwork %v priority %q", pod.Namespace, pod.Spec.HostNetwork, pod.Spec.PriorityClassName)
	}
	checkNoServiceLinks(t, pod.Spec)
	c := pod.Spec.Containers[0]
	wantArgs := []string{"run", "--kubeconfig=/etc/kubernetes/super-admin.conf", "--api-server=https://127.0.0.1:6443", "--api-server-check=true",
		"--vip=192.0.2.100", "--interface=eth0", "--lease-duration=6s", "--health-http=https://127.0.0.1:6443/livez", "--health-ca-file=/etc/kubernetes/pki/ca.crt", "--metrics-addr=127.0.0.1:9100"}
	if diff := cmp.Diff(wantArgs, c.Args); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
	checkSecurity(t, c.SecurityContext, 0, false)
	for probe, path := range map[*corev1.Probe]string{c.LivenessProbe: "/healthz", c.ReadinessProbe: "/readyz"} {
		if probe == nil || probe.HTTPGet == nil {
			t.Fatalf("no HTTP probe for %s", path)
		}
		if g := probe.HTTPGet; g.Path != path || g.Port.IntValue() != 9100 || g.Host != "127.0.0.1" {
			t.Errorf("probe %s: %+v", path, g)
		}
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() || !c.Resources.Limits.Cpu().IsZero() {
		t.Errorf("resources %+v: want requests, a memory limit and no CPU limit", c.Resources)
	}
	mounts := map[string]bool{}
	for _, m := range c.VolumeMounts {
		if !m.ReadOnly {
			t.Errorf("mount %s is writable", m.MountPath)
		}
		mounts[m.MountPath] = true
	}
	for _, v := range pod.Spec.Volumes {
		if v.HostPath == nil || !mounts[v.HostPath.Path] {
			t.Errorf("volume %s is not a hostPath mounted at the same path", v.Name)
		}
	}
	if !mounts["/etc/kubernetes/super-admin.conf"] || !mounts["/etc/kubernetes/pki/ca.crt"] {
		t.Errorf("mounts %v, want the kubeconfig and the health CA", mounts)
	}
	if len(c.Env) != 1 || c.Env[0].Name != "VIPKEEPER_NODE_NAME" || c.Env[0].ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
		t.Errorf("env %+v, want the node name from spec.nodeName", c.Env)
	}
}

// checkNoServiceLinks: no Service puts variables into the pod's
// environment (a Service vipkeeper-x would add VIPKEEPER_X_SERVICE_HOST,
// which looks like a setting).
func checkNoServiceLinks(t *testing.T, spec corev1.PodSpec) {
	t.Helper()
	if spec.EnableServiceLinks == nil || *spec.EnableServiceLinks {
		t.Errorf("enableServiceLinks %v, want false", spec.EnableServiceLinks)
	}
}

func checkSecurity(t *testing.T, sc *corev1.SecurityContext, uid int64, escalation bool) {
	t.Helper()
	if sc == nil || sc.Capabilities == nil {
		t.Fatal("no security context")
	}
	if diff := cmp.Diff([]corev1.Capability{"ALL"}, sc.Capabilities.Drop); diff != "" {
		t.Errorf("drop (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]corev1.Capability{"NET_ADMIN", "NET_RAW"}, sc.Capabilities.Add); diff != "" {
		t.Errorf("add (-want +got):\n%s", diff)
	}
	if !*sc.ReadOnlyRootFilesystem || *sc.RunAsUser != uid || *sc.AllowPrivilegeEscalation != escalation || *sc.RunAsNonRoot != (uid != 0) {
		t.Errorf("readOnlyRootFilesystem %v runAsUser %d allowPrivilegeEscalation %v runAsNonRoot %v; want uid %d escalation %v",
			*sc.ReadOnlyRootFilesystem, *sc.RunAsUser, *sc.AllowPrivilegeEscalation, *sc.RunAsNonRoot, uid, escalation)
	}
}

func TestDaemonSet(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		uid        int64
		escalation bool
	}{
		{"in-cluster: non-root with file capabilities", nil, 65532, true},
		{"host kubeconfig: root, no escalation", []string{"--kubeconfig", "/etc/kubernetes/admin.conf"}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := load(t, append([]string{"--lease-namespace", "vipkeeper"}, tt.args...)...)
			objs := decode(t, generate(t, manifest.DaemonSet, cfg))
			ds := objs[0].(*appsv1.DaemonSet)
			spec := ds.Spec.Template.Spec
			if ds.Namespace != "vipkeeper" || spec.ServiceAccountName != "vipkeeper" || !spec.HostNetwork {
				t.Errorf("namespace %q serviceAccount %q hostNetwork %v", ds.Namespace, spec.ServiceAccountName, spec.HostNetwork)
			}
			if len(spec.Tolerations) == 0 || len(spec.NodeSelector) == 0 {
				t.Error("no toleration or node selector example")
			}
			checkSecurity(t, spec.Containers[0].SecurityContext, tt.uid, tt.escalation)
			checkNoServiceLinks(t, spec)
			if probe := spec.Containers[0].LivenessProbe; probe == nil || probe.HTTPGet.Port.IntValue() != 9479 {
				t.Errorf("liveness probe %+v, want the default --metrics-addr port", probe)
			}
		})
	}
}

func TestNoProbesWithoutMetrics(t *testing.T) {
	objs := decode(t, generate(t, manifest.DaemonSet, load(t, "--metrics-addr", "")))
	c := objs[0].(*appsv1.DaemonSet).Spec.Template.Spec.Containers[0]
	if c.LivenessProbe != nil || c.ReadinessProbe != nil {
		t.Error("probes with --metrics-addr disabled")
	}
}

func TestProbeOnEveryAddress(t *testing.T) {
	objs := decode(t, generate(t, manifest.DaemonSet, load(t, "--metrics-addr", "0.0.0.0:9479")))
	if host := objs[0].(*appsv1.DaemonSet).Spec.Template.Spec.Containers[0].LivenessProbe.HTTPGet.Host; host != "" {
		t.Errorf("probe host %q, want kubelet's default for a wildcard listener", host)
	}
}

// services are the flags of a services-mode node: a pool from a
// documentation range.
var services = []string{"--services", "--services-pool", "pool=default;addresses=203.0.113.0/24"}

func TestServicesDaemonSet(t *testing.T) {
	out := generate(t, manifest.DaemonSet, load(t, services...))
	ds := decode(t, out)[0].(*appsv1.DaemonSet)
	want := []string{"run", "--vip=192.0.2.100", "--interface=eth0", "--services=true", "--services-pool=pool=default;addresses=203.0.113.0/24"}
	if diff := cmp.Diff(want, ds.Spec.Template.Spec.Containers[0].Args); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
	if !strings.Contains(string(out), "manifest rbac") {
		t.Errorf("the header does not say where the services RBAC comes from:\n%s", out)
	}
	// The args load back into the same settings.
	again := loadArgs(t, ds.Spec.Template.Spec.Containers[0].Args[1:]...)
	if !again.Services || len(again.ServicePools) != 1 || again.ServicePools[0].Name != "default" {
		t.Errorf("args load as Services %v, pools %+v", again.Services, again.ServicePools)
	}
}

// TestStaticPodAPIServerCheck: the static pod checks its node's own API
// server unless told not to, and then needs no --api-server.
func TestStaticPodAPIServerCheck(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"on by default", []string{"--kubeconfig", "/k", "--api-server", "https://127.0.0.1:6443"},
			[]string{"run", "--kubeconfig=/k", "--api-server=https://127.0.0.1:6443", "--api-server-check=true", "--vip=192.0.2.100", "--interface=eth0"}},
		{"on, with its timings", []string{"--kubeconfig", "/k", "--api-server", "https://127.0.0.1:6443", "--api-server-check", "--api-server-check-fall", "3"},
			[]string{"run", "--kubeconfig=/k", "--api-server=https://127.0.0.1:6443", "--api-server-check=true", "--api-server-check-fall=3", "--vip=192.0.2.100", "--interface=eth0"}},
		{"turned off", []string{"--kubeconfig", "/k", "--api-server-check=false"},
			[]string{"run", "--kubeconfig=/k", "--vip=192.0.2.100", "--interface=eth0"}},
	} {
		objs := decode(t, generate(t, manifest.StaticPod, load(t, tt.args...)))
		if diff := cmp.Diff(tt.want, objs[0].(*corev1.Pod).Spec.Containers[0].Args); diff != "" {
			t.Errorf("%s: args (-want +got):\n%s", tt.name, diff)
		}
	}
	// A DaemonSet is no control-plane pod: nothing is turned on.
	objs := decode(t, generate(t, manifest.DaemonSet, load(t, "--api-server", "https://127.0.0.1:6443")))
	for _, o := range objs {
		if ds, ok := o.(*appsv1.DaemonSet); ok && slices.Contains(ds.Spec.Template.Spec.Containers[0].Args, "--api-server-check=true") {
			t.Errorf("the DaemonSet turns the check on: %v", ds.Spec.Template.Spec.Containers[0].Args)
		}
	}
}
