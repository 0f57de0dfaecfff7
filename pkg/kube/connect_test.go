package kube_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/vipkeeper/vipkeeper/pkg/kube"
	"github.com/vipkeeper/vipkeeper/pkg/version"
)

// connect writes a kubeconfig naming cfg's server, CA and server name,
// and connects through it with o (Kubeconfig and Log filled in).
func connect(t *testing.T, cfg *rest.Config, o kube.Options) *kube.Conn {
	t.Helper()
	o.Kubeconfig = writeKubeconfig(t, cfg)
	o.Log = slog.New(slog.DiscardHandler)
	c, err := kube.Connect(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func writeKubeconfig(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData, TLSServerName: cfg.ServerName}
	kc.AuthInfos["test"] = &clientcmdapi.AuthInfo{}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	kc.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// readyz makes one request on cs.
func readyz(ctx context.Context, cs kubernetes.Interface) error {
	_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	return err
}

// everyClient names every client of c (the services ones when built).
func everyClient(c *kube.Conn) map[string]kubernetes.Interface {
	m := map[string]kubernetes.Interface{"leases": c.Leases, "watch": c.Watch, "probe": c.Probe, "events": c.Events}
	if c.Services != nil {
		m["services"] = c.Services.Writes
		m["services-informers"] = c.Services.Informers
	}
	return m
}

// TestConnectUserAgents: every client names the version, the node and
// what it is for.
func TestConnectUserAgents(t *testing.T) {
	api, _, cfg := startLeaseAPI(t)
	c := connect(t, cfg, kube.Options{Node: "node-a", RenewDeadline: 2 * time.Second, Services: true, ServicesQPS: 5, ServicesBurst: 10})
	for name, cs := range everyClient(c) {
		if err := readyz(t.Context(), cs); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	var got []string
	api.callers.Range(func(_, ua any) bool { got = append(got, ua.(string)); return true })
	slices.Sort(got)
	var want []string
	for _, what := range []string{"events", "leases", "services", "services-informers", "watch", "watchdog"} {
		want = append(want, fmt.Sprintf("vipkeeper/%s (node-a) %s", version.Get().Version, what))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("user agents (-want +got):\n%s", diff)
	}
}

// TestConnectErrors: a setting that cannot work is named, so the command
// line can point at the flag.
func TestConnectErrors(t *testing.T) {
	good := writeKubeconfig(t, &rest.Config{Host: "https://192.0.2.1:6443"})
	tests := []struct {
		name      string
		o         kube.Options
		wantField string
	}{
		{"no such kubeconfig", kube.Options{Kubeconfig: filepath.Join(t.TempDir(), "missing")}, "kubeconfig"},
		{"not an API server", kube.Options{Kubeconfig: good, Servers: []string{"https://%zz"}}, "api-server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Log = slog.New(slog.DiscardHandler)
			_, err := kube.Connect(tt.o)
			var fe *kube.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Connect = %v, want a *kube.FieldError", err)
			}
			if fe.Field != tt.wantField {
				t.Errorf("field %q, want %q (%v)", fe.Field, tt.wantField, err)
			}
		})
	}
}

// TestConnectServicesOptional: the services clients exist in services
// mode only.
func TestConnectServicesOptional(t *testing.T) {
	kc := writeKubeconfig(t, &rest.Config{Host: "https://192.0.2.1:6443"})
	for _, services := range []bool{false, true} {
		c, err := kube.Connect(kube.Options{Kubeconfig: kc, Services: services, ServicesQPS: 5, ServicesBurst: 10, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Services != nil; got != services {
			t.Errorf("Services built = %v, want %v", got, services)
		}
		if c.Server != "https://192.0.2.1:6443" {
			t.Errorf("Server = %q, want the kubeconfig's", c.Server)
		}
	}
}
