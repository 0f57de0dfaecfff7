package cli

import (
	"bytes"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/klog/v2"

	"github.com/vipkeeper/vipkeeper/pkg/config"
	"github.com/vipkeeper/vipkeeper/pkg/ifname"
)

// writeKubeconfig writes a kubeconfig naming server (and ca, if any) and
// returns its path.
func writeKubeconfig(t *testing.T, server string, ca []byte) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["c"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	kc.AuthInfos["u"] = &clientcmdapi.AuthInfo{}
	kc.Contexts["x"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	kc.CurrentContext = "x"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// hostInterface is an interface of this host that can carry a VIP (not
// loopback); newDaemon only reads its addresses. Tests skip without one.
func hostInterface(t *testing.T) string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Skipf("listing interfaces: %v", err)
	}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback == 0 && ifname.Check(ifi.Name) == nil && ifi.Name != "kube-ipvs0" {
			return ifi.Name
		}
	}
	t.Skip("no non-loopback interface to wire to")
	return ""
}

// TestNewDaemon builds the daemon in both modes; it starts nothing, so
// it needs neither root nor an API server. It proves the wiring builds
// every component without reaching a loop that does not exist yet.
func TestNewDaemon(t *testing.T) {
	iface := hostInterface(t)
	t.Cleanup(klog.ClearLogger)
	kubeconfig := writeKubeconfig(t, "https://198.51.100.1:6443", nil)
	base := []string{"--vip", "192.0.2.100", "--interface", iface, "--node-name", "n1", "--metrics-addr", "", "--kubeconfig", kubeconfig}
	tests := []struct {
		name          string
		args          []string
		wantParts     int // components beside the keeper
		wantDraining  int
		wantLogged    string
		wantNotLogged string
	}{
		// binder, announcer, watchdog, guard, prober, claims, links, sdnotify, Events, witness
		{name: "control plane", args: base, wantParts: 10, wantNotLogged: "deadlocks"},
		{name: "no witness", args: append(base[:len(base):len(base)], "--witness", "none"), wantParts: 9},
		{name: "services", args: append(base[:len(base):len(base)], "--services", "--services-pool", "pool=default;addresses=203.0.113.0/24"),
			wantParts: 11, wantDraining: 1},
		{name: "kubeconfig names the VIP", args: []string{"--vip", "192.0.2.100", "--interface", iface, "--node-name", "n1",
			"--metrics-addr", "", "--kubeconfig", writeKubeconfig(t, "https://192.0.2.100:6443", nil)},
			wantParts: 10, wantLogged: "the election deadlocks once the holder is gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load(config.Sources{Args: tt.args, LookupEnv: func(string) (string, bool) { return "", false }})
			if err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			d, err := newDaemon(cfg, &log)
			if err != nil {
				t.Fatal(err)
			}
			got := []int{len(d.components), len(d.draining)}
			if diff := cmp.Diff([]int{tt.wantParts, tt.wantDraining}, got); diff != "" {
				t.Errorf("components, draining (-want +got):\n%s", diff)
			}
			if tt.wantLogged != "" && !strings.Contains(log.String(), tt.wantLogged) {
				t.Errorf("log lacks %q:\n%s", tt.wantLogged, log.String())
			}
			if tt.wantNotLogged != "" && strings.Contains(log.String(), tt.wantNotLogged) {
				t.Errorf("log has %q:\n%s", tt.wantNotLogged, log.String())
			}
		})
	}
}

// TestNewDaemonNamesTheFlag: a kubeconfig that cannot be read is reported
// as the --kubeconfig flag's error.
func TestNewDaemonNamesTheFlag(t *testing.T) {
	iface := hostInterface(t)
	t.Cleanup(klog.ClearLogger)
	cfg, err := config.Load(config.Sources{Args: []string{"--vip", "192.0.2.100", "--interface", iface, "--node-name", "n1",
		"--metrics-addr", "", "--kubeconfig", filepath.Join(t.TempDir(), "missing")}, LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = newDaemon(cfg, &bytes.Buffer{})
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Source != "--kubeconfig" {
		t.Errorf("newDaemon = %v, want a --kubeconfig error", err)
	}
}
