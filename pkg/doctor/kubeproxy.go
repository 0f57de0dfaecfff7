package doctor

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// ConfigMapGetter reads a ConfigMap by name. client-go's
// CoreV1().ConfigMaps("kube-system") is one.
type ConfigMapGetter interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.ConfigMap, error)
}

// Where kubeadm keeps kube-proxy's configuration.
const (
	KubeProxyNamespace = "kube-system"
	kubeProxyConfigMap = "kube-proxy"
	kubeProxyConfigKey = "config.conf"
)

// kubeProxyConfig is the part of a KubeProxyConfiguration we read.
type kubeProxyConfig struct {
	Kind string `json:"kind"`
	Mode string `json:"mode"`
	IPVS struct {
		StrictARP bool `json:"strictARP"`
	} `json:"ipvs"`
}

// ErrNotKubeProxyConfig is returned for a document of another kind.
var ErrNotKubeProxyConfig = errors.New("not a KubeProxyConfiguration")

// parseKubeProxyConfig reads the config.conf of kube-proxy's ConfigMap.
func parseKubeProxyConfig(b []byte) (kubeProxyConfig, error) {
	var c kubeProxyConfig
	if err := yaml.Unmarshal(b, &c); err != nil {
		return kubeProxyConfig{}, fmt.Errorf("parsing %s: %w", kubeProxyConfigKey, err)
	}
	if c.Kind != "" && c.Kind != "KubeProxyConfiguration" {
		return kubeProxyConfig{}, fmt.Errorf("%s: kind %q: %w", kubeProxyConfigKey, c.Kind, ErrNotKubeProxyConfig)
	}
	return c, nil
}

// CheckKubeProxy reads kube-proxy's configuration through cms (ConfigMaps
// of kube-system) and reports IPVS mode without strictARP.
func CheckKubeProxy(ctx context.Context, cms ConfigMapGetter) []Finding {
	where := KubeProxyNamespace + "/" + kubeProxyConfigMap
	f := Finding{Check: "kube-proxy", Setting: where + " " + kubeProxyConfigKey, Recommended: "ipvs.strictARP: true in ipvs mode"}
	cm, err := cms.Get(ctx, kubeProxyConfigMap, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		f.Setting, f.Current, f.Severity = where, "not found", Info
		f.Why = "no kubeadm-style kube-proxy ConfigMap (kube-proxy deployed otherwise or replaced, e.g. by Cilium); strictARP not checked"
		return []Finding{f}
	case err != nil:
		f.Setting, f.Current, f.Severity = where, "unreadable", Warning
		f.Why = fmt.Sprintf("could not check strictARP: %v", err)
		return []Finding{f}
	}
	raw, ok := cm.Data[kubeProxyConfigKey]
	if !ok {
		f.Current, f.Severity = "missing", Warning
		f.Why = "the ConfigMap has no " + kubeProxyConfigKey + "; strictARP not checked"
		return []Finding{f}
	}
	c, err := parseKubeProxyConfig([]byte(raw))
	if err != nil {
		f.Current, f.Severity = "unparsable", Warning
		f.Why = fmt.Sprintf("strictARP not checked: %v", err)
		return []Finding{f}
	}
	mode := c.Mode
	if mode == "" {
		mode = "iptables (default)"
	}
	f.Current = "mode: " + mode
	switch {
	case c.Mode != "ipvs":
		f.Why = "strictARP matters only in ipvs mode"
	case c.IPVS.StrictARP:
		f.Current += ", strictARP: true"
		f.Why = "kube-proxy sets arp_ignore=1 and arp_announce=2, so only the node holding an IP answers ARP for it"
	default:
		f.Current += ", strictARP: false"
		f.Severity = Error
		f.Why = "kube-proxy puts every LoadBalancer IP on kube-ipvs0 of every node, and without strictARP every node answers ARP for them (metallb#153)"
	}
	return []Finding{f}
}
