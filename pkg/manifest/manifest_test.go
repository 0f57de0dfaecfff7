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
	rbacv1 "k8s.io/api/rbac/v1"
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
	c := pod.Spec.Containers[0]
	wantArgs := []string{"run", "--kubeconfig=/etc/kubernetes/super-admin.conf", "--api-server=https://127.0.0.1:6443",
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

func TestRBAC(t *testing.T) {
	objs := decode(t, generate(t, manifest.RBAC, load(t, "--lease-namespace", "vk", "--lease-name", "cp")))
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.GetObjectKind().GroupVersionKind().Kind)
	}
	if diff := cmp.Diff([]string{"ServiceAccount", "Role", "RoleBinding"}, kinds); diff != "" {
		t.Fatalf("kinds (-want +got):\n%s", diff)
	}
	role := objs[1].(*rbacv1.Role)
	if role.Namespace != "vk" {
		t.Errorf("role namespace %q", role.Namespace)
	}
	if diff := cmp.Diff(manifest.Rules("cp"), role.Rules); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	for _, r := range role.Rules {
		for _, verb := range r.Verbs {
			if slices.Contains([]string{"list", "delete", "deletecollection", "*"}, verb) {
				t.Errorf("rule %+v grants %q", r, verb)
			}
		}
	}
	binding := objs[2].(*rbacv1.RoleBinding)
	want := []rbacv1.Subject{
		{Kind: "ServiceAccount", Name: "vipkeeper", Namespace: "vk"},
		{Kind: "Group", APIGroup: rbacv1.GroupName, Name: manifest.NodeGroup},
	}
	if diff := cmp.Diff(want, binding.Subjects); diff != "" {
		t.Errorf("subjects (-want +got):\n%s", diff)
	}
}

// services are the flags of a services-mode node: a pool from a
// documentation range.
var services = []string{"--services", "--services-pool", "pool=default;addresses=203.0.113.0/24"}

// TestServicesRules pins the services-mode rules: the design
// (docs/services.md) and the e2e suite rely on exactly these.
func TestServicesRules(t *testing.T) {
	want := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"services/status"}, Verbs: []string{"update", "patch"}},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	}
	if diff := cmp.Diff(want, manifest.ServicesRules()); diff != "" {
		t.Errorf("ServicesRules (-want +got):\n%s", diff)
	}
	wantLease := []rbacv1.PolicyRule{
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "list", "watch", "create", "update", "delete"}},
	}
	if diff := cmp.Diff(wantLease, manifest.ServiceLeaseRules()); diff != "" {
		t.Errorf("ServiceLeaseRules (-want +got):\n%s", diff)
	}
}

func TestServicesRBAC(t *testing.T) {
	for _, vip := range []bool{true, false} {
		t.Run(map[bool]string{true: "with a VIP", false: "services only"}[vip], func(t *testing.T) {
			args := append([]string{"--interface", "eth0", "--lease-namespace", "vk", "--lease-name", "cp"}, services...)
			if vip {
				args = append(args, "--vip", "192.0.2.100")
			}
			cfg := loadArgs(t, args...)
			objs := decode(t, generate(t, manifest.RBAC, cfg))
			var kinds []string
			for _, o := range objs {
				kinds = append(kinds, o.GetObjectKind().GroupVersionKind().Kind)
			}
			if diff := cmp.Diff([]string{"ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}, kinds); diff != "" {
				t.Fatalf("kinds (-want +got):\n%s", diff)
			}
			// The control-plane Role is the same with or without --services.
			if diff := cmp.Diff(manifest.Rules("cp"), objs[1].(*rbacv1.Role).Rules); diff != "" {
				t.Errorf("control-plane rules (-want +got):\n%s", diff)
			}
			subjects := objs[2].(*rbacv1.RoleBinding).Subjects
			want := []rbacv1.Subject{
				{Kind: "ServiceAccount", Name: "vipkeeper", Namespace: "vk"},
				{Kind: "Group", APIGroup: rbacv1.GroupName, Name: manifest.NodeGroup},
			}
			if diff := cmp.Diff(want, subjects); diff != "" {
				t.Errorf("subjects (-want +got):\n%s", diff)
			}

			cr := objs[3].(*rbacv1.ClusterRole)
			if cr.Name != manifest.ServicesName || cr.Namespace != "" {
				t.Errorf("ClusterRole %s/%s, want cluster-scoped %s", cr.Namespace, cr.Name, manifest.ServicesName)
			}
			if diff := cmp.Diff(manifest.ServicesRules(), cr.Rules); diff != "" {
				t.Errorf("ClusterRole rules (-want +got):\n%s", diff)
			}
			crb := objs[4].(*rbacv1.ClusterRoleBinding)
			wantRef := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: manifest.ServicesName}
			if crb.Name != manifest.ServicesName || crb.Namespace != "" || crb.RoleRef != wantRef {
				t.Errorf("ClusterRoleBinding %s/%s → %+v", crb.Namespace, crb.Name, crb.RoleRef)
			}
			if diff := cmp.Diff(want, crb.Subjects); diff != "" {
				t.Errorf("ClusterRoleBinding subjects (-want +got):\n%s", diff)
			}

			role := objs[5].(*rbacv1.Role)
			if role.Name != manifest.ServicesName || role.Namespace != "vk" {
				t.Errorf("services Role %s/%s, want vk/%s", role.Namespace, role.Name, manifest.ServicesName)
			}
			if diff := cmp.Diff(manifest.ServiceLeaseRules(), role.Rules); diff != "" {
				t.Errorf("services Role rules (-want +got):\n%s", diff)
			}
			rb := objs[6].(*rbacv1.RoleBinding)
			wantRef = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: manifest.ServicesName}
			if rb.Name != manifest.ServicesName || rb.Namespace != "vk" || rb.RoleRef != wantRef {
				t.Errorf("services RoleBinding %s/%s → %+v", rb.Namespace, rb.Name, rb.RoleRef)
			}
			if diff := cmp.Diff(want, rb.Subjects); diff != "" {
				t.Errorf("services RoleBinding subjects (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRBACWithoutServices: control-plane mode grants nothing cluster-wide.
func TestRBACWithoutServices(t *testing.T) {
	out := generate(t, manifest.RBAC, load(t))
	for _, o := range decode(t, out) {
		switch o.(type) {
		case *rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding:
			t.Errorf("%T without --services", o)
		}
	}
	if strings.Contains(string(out), manifest.ServicesName) {
		t.Errorf("services RBAC without --services:\n%s", out)
	}
}

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

func TestSystemd(t *testing.T) {
	unit := string(generate(t, manifest.Systemd, load(t, "--kubeconfig", "/etc/vipkeeper/kubeconfig", "--lease-duration", "8s", "--renew-deadline", "4500ms")))
	for _, line := range []string{
		"Type=notify", "NotifyAccess=main", "WatchdogSec=8s", "TimeoutStopSec=10500ms",
		"ExecStart=/usr/local/bin/vipkeeper run --config /etc/vipkeeper/config.yaml",
		"EnvironmentFile=-/etc/vipkeeper/vipkeeper.env",
		"LoadCredential=kubeconfig:/etc/vipkeeper/kubeconfig", "Environment=VIPKEEPER_KUBECONFIG=%d/kubeconfig",
		"AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW", "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
		"Restart=always", "RestartSec=2s", "DynamicUser=yes",
	} {
		if !slices.Contains(strings.Split(unit, "\n"), line) {
			t.Errorf("unit lacks %q", line)
		}
	}
}

// TestConfigFileRoundTrip: the config file the unit reads loads into the
// Config it was rendered from (the kubeconfig comes from the unit).
func TestConfigFileRoundTrip(t *testing.T) {
	cfg := load(t, "--kubeconfig", "/etc/vipkeeper/kubeconfig", "--api-server", "https://192.0.2.11:6443",
		"--health-http", "https://127.0.0.1:6443/readyz,status=200-299", "--health-insecure-skip-verify", "--lease-duration", "6s",
		"--services", "--services-pool", "pool=default;addresses=203.0.113.0/24", "--services-pool", "pool=v6;addresses=2001:db8:1::/120;namespaces=web",
		"--services-qps", "20")
	out := generate(t, manifest.Config, cfg)
	again, err := config.Load(config.Sources{
		Args:      []string{"--config", "/etc/vipkeeper/config.yaml", "--kubeconfig", "/etc/vipkeeper/kubeconfig"},
		LookupEnv: func(string) (string, bool) { return "", false },
		ReadFile:  func(string) ([]byte, error) { return out, nil },
		Hostname:  func() (string, error) { return "node", nil },
	})
	if err != nil {
		t.Fatalf("the config file does not load: %v\n%s", err, out)
	}
	if diff := cmp.Diff(config.Args(cfg.Settings()), config.Args(again.Settings())); diff != "" {
		t.Errorf("settings after the round trip (-want +got):\n%s", diff)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		kind manifest.Kind
		args []string
		want string
	}{
		{"static pod needs a kubeconfig", manifest.StaticPod, nil, "ServiceAccount"},
		{"node name in a static pod", manifest.StaticPod, []string{"--kubeconfig", "/k", "--node-name", "n1"}, "spec.nodeName"},
		{"node name in a DaemonSet", manifest.DaemonSet, []string{"--node-name", "n1"}, "spec.nodeName"},
		{"systemd needs a kubeconfig", manifest.Systemd, nil, "--kubeconfig"},
		{"config needs a kubeconfig", manifest.Config, nil, "--kubeconfig"},
		{"unknown kind", "helm", nil, "unknown kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := manifest.Generate(tt.kind, load(t, tt.args...), manifest.Options{Image: "x"})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Generate = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}
