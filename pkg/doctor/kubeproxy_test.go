package doctor

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func kubeProxyCM(conf string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-proxy"},
		Data:       map[string]string{"config.conf": conf, "kubeconfig.conf": "apiVersion: v1\nkind: Config\n"},
	}
}

// As kubeadm writes it, trimmed.
const kubeadmIPVS = `apiVersion: kubeproxy.config.k8s.io/v1alpha1
bindAddress: 0.0.0.0
clusterCIDR: 203.0.113.0/24
conntrack:
  maxPerCore: null
  tcpBeLiberal: false
ipvs:
  excludeCIDRs: null
  scheduler: ""
  strictARP: false
  syncPeriod: 0s
kind: KubeProxyConfiguration
mode: ipvs
`

func TestCheckKubeProxy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		objects []runtime.Object
		getErr  error
		want    Finding
	}{
		{name: "ipvs without strictARP", objects: []runtime.Object{kubeProxyCM(kubeadmIPVS)},
			want: Finding{Setting: "kube-system/kube-proxy config.conf", Current: "mode: ipvs, strictARP: false", Severity: Error}},
		{name: "ipvs with strictARP", objects: []runtime.Object{kubeProxyCM("kind: KubeProxyConfiguration\nmode: ipvs\nipvs:\n  strictARP: true\n")},
			want: Finding{Setting: "kube-system/kube-proxy config.conf", Current: "mode: ipvs, strictARP: true", Severity: OK}},
		{name: "iptables", objects: []runtime.Object{kubeProxyCM("kind: KubeProxyConfiguration\nmode: iptables\n")},
			want: Finding{Setting: "kube-system/kube-proxy config.conf", Current: "mode: iptables", Severity: OK}},
		{name: "default mode", objects: []runtime.Object{kubeProxyCM("kind: KubeProxyConfiguration\nmode: \"\"\nipvs:\n  strictARP: false\n")},
			want: Finding{Setting: "kube-system/kube-proxy config.conf", Current: "mode: iptables (default)", Severity: OK}},
		{name: "no ConfigMap",
			want: Finding{Setting: "kube-system/kube-proxy", Current: "not found", Severity: Info}},
		{name: "no config.conf", objects: []runtime.Object{&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-proxy"}}},
			want: Finding{Setting: "kube-system/kube-proxy config.conf", Current: "missing", Severity: Warning}},
		{name: "not YAML", objects: []runtime.Object{kubeProxyCM("mode: [ipvs\n")},
			want: Finding{Setting: "kube-system/kube-proxy config.conf", Current: "unparsable", Severity: Warning}},
		{name: "other kind", objects: []runtime.Object{kubeProxyCM("kind: KubeletConfiguration\nmode: ipvs\n")},
			want: Finding{Setting: "kube-system/kube-proxy config.conf", Current: "unparsable", Severity: Warning}},
		{name: "forbidden", getErr: apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "kube-proxy", errors.New("no RBAC")),
			want: Finding{Setting: "kube-system/kube-proxy", Current: "unreadable", Severity: Warning}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset(tc.objects...)
			if tc.getErr != nil {
				cs.PrependReactor("get", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, tc.getErr
				})
			}
			got := CheckKubeProxy(context.Background(), cs.CoreV1().ConfigMaps("kube-system"))
			if len(got) != 1 {
				t.Fatalf("got %d findings, want 1: %+v", len(got), got)
			}
			g := got[0]
			if diff := cmp.Diff(tc.want, Finding{Setting: g.Setting, Current: g.Current, Severity: g.Severity}); diff != "" {
				t.Errorf("finding (-want +got):\n%s\nwhy: %s", diff, g.Why)
			}
			if g.Check != "kube-proxy" || g.Why == "" {
				t.Errorf("finding %+v: want check kube-proxy and a reason", g)
			}
		})
	}
}

// Check reads kube-proxy only when given a ConfigMap reader, and adds its
// finding last.
func TestCheckWithKubeProxy(t *testing.T) {
	cs := fake.NewClientset(kubeProxyCM(kubeadmIPVS))
	without := Check(context.Background(), Options{Root: profileRoot(profileGood), Interface: "eth0"})
	with := Check(context.Background(), Options{Root: profileRoot(profileGood), Interface: "eth0", ConfigMaps: cs.CoreV1().ConfigMaps("kube-system")})
	if len(with) != len(without)+1 || with[len(with)-1].Check != "kube-proxy" || Worst(with) != Error {
		t.Errorf("with kube-proxy: %d findings (without: %d), last %+v; want one more, kube-proxy, error", len(with), len(without), with[len(with)-1])
	}
}

func FuzzParseKubeProxyConfig(f *testing.F) {
	f.Add([]byte(kubeadmIPVS))
	f.Add([]byte("kind: KubeProxyConfiguration\nmode: ipvs\nipvs:\n  strictARP: true\n"))
	f.Add([]byte("{\"mode\": \"ipvs\", \"ipvs\": {\"strictARP\": \"yes\"}}"))
	f.Add([]byte("mode: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseKubeProxyConfig(b)
		if err != nil && c != (kubeProxyConfig{}) {
			t.Errorf("parseKubeProxyConfig(%q) = %+v with error %v; want zero config", b, c, err)
		}
		if err == nil && c.Kind != "" && c.Kind != "KubeProxyConfiguration" {
			t.Errorf("parseKubeProxyConfig(%q) accepted kind %q", b, c.Kind)
		}
	})
}
