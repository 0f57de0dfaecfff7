package manifest

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/vipkeeper/vipkeeper/pkg/config"
)

// ErrNodeName is returned for a pod with --node-name: one manifest serves
// every node, and each pod takes its node's name from spec.nodeName.
var ErrNodeName = errors.New("--node-name: a pod manifest serves every node; each pod takes its node's name from the downward API (spec.nodeName)")

// nonRootUID is the image's user (distroless "nonroot"; Containerfile).
const nonRootUID = 65532

// staticPodNamespace is where kubelet's mirror pods of control-plane
// components live.
const staticPodNamespace = "kube-system"

var labels = map[string]string{"app.kubernetes.io/name": name}

// staticPodCheck is where a static pod's --api-server-check comes from
// when nobody set it, for errors.
const staticPodCheck = "--api-server-check, on by default in a static pod (--api-server-check=false turns it off)"

func staticPod(cfg *config.Config, o Options) ([]byte, error) {
	if cfg.Kubeconfig == "" {
		return nil, errors.New("--kubeconfig: a static pod cannot use a ServiceAccount; give the host's kubeconfig, e.g. /etc/kubernetes/admin.conf (super-admin.conf while bootstrapping the first node)")
	}
	// The VIP of a control-plane node fronts its own API server: it is a
	// candidate only while that server is ready (docs/deploy-static-pod.md).
	cfg, err := cfg.WithAPIServerCheck(staticPodCheck)
	if err != nil {
		return nil, err
	}
	spec, err := podSpec(cfg, o)
	if err != nil {
		return nil, err
	}
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: staticPodNamespace, Labels: labels},
		Spec:       spec,
	}
	return render(header(o,
		"vipkeeper as a static pod: save as /etc/kubernetes/manifests/vipkeeper.yaml on every",
		"control-plane node (docs/deploy-static-pod.md). kubelet runs it before the API server is up,",
		"which is what a VIP in front of the API server needs.",
		"",
		securityNote(cfg),
	), pod)
}

func daemonSet(cfg *config.Config, o Options) ([]byte, error) {
	spec, err := podSpec(cfg, o)
	if err != nil {
		return nil, err
	}
	spec.ServiceAccountName = name
	// Examples: run on the control-plane nodes only, despite their taint.
	// Edit both for a VIP that belongs elsewhere.
	spec.NodeSelector = map[string]string{"node-role.kubernetes.io/control-plane": ""}
	spec.Tolerations = []corev1.Toleration{{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
	ds := &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: cfg.LeaseNamespace, Labels: labels},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
			// One node at a time: replacing the holder's pod hands the VIP
			// over once; replacing all at once would leave nobody to take it.
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{
				Type:          appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(1))},
			},
		},
	}
	head := []string{
		"vipkeeper as a DaemonSet (docs/deploy-daemonset.md). Apply rbac.yaml first: the pods use the",
		"ServiceAccount " + cfg.LeaseNamespace + "/" + name + ". The nodeSelector and toleration are examples that",
		"place it on the control-plane nodes; change them to the nodes that may hold the VIP.",
		"Not for a VIP in front of the API server itself: a DaemonSet needs the API server to start.",
	}
	if cfg.Services {
		head = append(head,
			"",
			"Services mode (--services): LoadBalancer Services of class vipkeeper.io/lb get addresses from the",
			"--services-pool pools, each announced from one of these nodes (docs/services.md). It needs the",
			"services RBAC: generate rbac.yaml with `vipkeeper manifest rbac` and the same flags.",
		)
	}
	return render(header(o, append(head, "", securityNote(cfg))...), ds)
}

// runsAsRoot says how the container gets its two capabilities.
//
// A host kubeconfig (kubeadm's admin.conf, super-admin.conf) is mode 0600,
// owned by root: only root can read it, so the pod runs as UID 0, with
// allowPrivilegeEscalation false and every capability but NET_ADMIN and
// NET_RAW dropped (no CAP_DAC_OVERRIDE: it reads only what root owns).
//
// With the in-cluster ServiceAccount there is nothing root-only to read, so
// the pod runs as the image's non-root user. A non-root process gains
// capabilities only from the binary's file capabilities (the Containerfile
// sets cap_net_admin,cap_net_raw+ep), and the kernel grants file
// capabilities only without no_new_privs: allowPrivilegeEscalation must be
// true. Nothing in the image can use that: it has no shell and no setuid
// binary, and the bounding set holds only the two capabilities.
func runsAsRoot(cfg *config.Config) bool { return cfg.Kubeconfig != "" }

func securityNote(cfg *config.Config) string {
	if runsAsRoot(cfg) {
		return "Security: root (the kubeconfig is root-only), no privilege escalation, capabilities NET_ADMIN and NET_RAW only, read-only root filesystem."
	}
	return "Security: non-root (UID 65532) with the image's file capabilities NET_ADMIN and NET_RAW, which need allowPrivilegeEscalation; nothing else, read-only root filesystem."
}

func securityContext(cfg *config.Config) *corev1.SecurityContext {
	sc := &corev1.SecurityContext{
		Capabilities: &corev1.Capabilities{
			Drop: []corev1.Capability{"ALL"},
			Add:  []corev1.Capability{"NET_ADMIN", "NET_RAW"}, // netlink addresses; ARP and NA on raw sockets
		},
		ReadOnlyRootFilesystem: ptr.To(true),
		SeccompProfile:         &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if runsAsRoot(cfg) {
		sc.RunAsUser, sc.RunAsGroup = ptr.To[int64](0), ptr.To[int64](0)
		sc.RunAsNonRoot = ptr.To(false)
		sc.AllowPrivilegeEscalation = ptr.To(false)
	} else {
		sc.RunAsUser, sc.RunAsGroup = ptr.To[int64](nonRootUID), ptr.To[int64](nonRootUID)
		sc.RunAsNonRoot = ptr.To(true)
		sc.AllowPrivilegeEscalation = ptr.To(true)
	}
	return sc
}

// podSpec is what the static pod and the DaemonSet share.
func podSpec(cfg *config.Config, o Options) (corev1.PodSpec, error) {
	var settings []config.Setting
	for _, s := range cfg.Settings() {
		if s.Name == "node-name" {
			return corev1.PodSpec{}, ErrNodeName
		}
		settings = append(settings, s)
	}
	c := corev1.Container{
		Name:            name,
		Image:           o.Image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Args:            append([]string{"run"}, config.Args(settings)...),
		Env: []corev1.EnvVar{{Name: config.EnvVar("node-name"), ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}},
		SecurityContext: securityContext(cfg),
		Resources:       resources(),
	}
	var err error
	if c.LivenessProbe, c.ReadinessProbe, err = probes(cfg.MetricsAddr); err != nil {
		return corev1.PodSpec{}, err
	}
	spec := corev1.PodSpec{
		HostNetwork:       true, // the VIP lives on the node's interface
		PriorityClassName: "system-node-critical",
		// No <SERVICE>_SERVICE_HOST variables: a Service named
		// vipkeeper-<x> would otherwise put VIPKEEPER_* variables into the
		// environment, which the daemon reads as settings.
		EnableServiceLinks: ptr.To(false),
	}
	for _, m := range []struct{ vol, path string }{
		{"kubeconfig", cfg.Kubeconfig},
		{"health-ca", valueOf(cfg, "health-ca-file")},
	} {
		if m.path == "" {
			continue
		}
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: m.vol, MountPath: m.path, ReadOnly: true})
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: m.vol, VolumeSource: corev1.VolumeSource{
			HostPath: &corev1.HostPathVolumeSource{Path: m.path, Type: ptr.To(corev1.HostPathFile)}}})
	}
	spec.Containers = []corev1.Container{c}
	return spec, nil
}

func valueOf(cfg *config.Config, name string) string {
	v, _ := cfg.Value(name)
	return v
}

// resources: requests sized from the daemon at rest (a few MB of heap,
// well under 10m CPU) with room for a handover. The memory limit bounds a
// leak; there is no CPU limit on purpose: CFS throttling would delay lease
// renewals and the holder's safety deadline, and a throttled holder drops
// the VIP for nothing.
func resources() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("20m"),
			corev1.ResourceMemory: resource.MustParse("64Mi"),
		},
		Limits: corev1.ResourceList{
			corev1.ResourceMemory: resource.MustParse("128Mi"),
		},
	}
}

// probes point at --metrics-addr. kubelet probes a host-network pod from
// the node itself, so a loopback address works. Liveness restarts a daemon
// whose loop stopped answering after about 30 s; readiness only shows in
// the pod's status (nothing routes to the pod).
func probes(addr string) (liveness, readiness *corev1.Probe, err error) {
	if addr == "" {
		return nil, nil, nil // --metrics-addr disabled: nothing to probe
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("--metrics-addr %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, nil, fmt.Errorf("--metrics-addr %q: port is not a number", addr)
	}
	if a, err := netip.ParseAddr(host); err == nil && a.IsUnspecified() {
		host = "" // every address: kubelet's default, the node's IP, answers
	}
	probe := func(path string, period, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Host: host, Path: path, Port: intstr.FromInt(port), Scheme: corev1.URISchemeHTTP}},
			PeriodSeconds:    period,
			TimeoutSeconds:   3,
			FailureThreshold: failures,
		}
	}
	return probe("/healthz", 10, 3), probe("/readyz", 5, 2), nil
}
