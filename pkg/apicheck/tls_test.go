package apicheck

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/vipkeeper/vipkeeper/pkg/health"
	"github.com/vipkeeper/vipkeeper/pkg/kube"
)

// servingName is the name the test API server's certificate carries, as
// kubeadm's carries the control-plane endpoint and not 127.0.0.1.
const servingName = "cp.vipkeeper.test"

// pki is a CA and a serving certificate it signed for names.
type pki struct {
	caPEM []byte
	cert  tls.Certificate
}

func newPKI(t *testing.T, names ...string) pki {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, srvKey := key(), key()
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), DNSNames: names,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pki{
		caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		cert:  tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey},
	}
}

// fakeAPI is a TLS server answering /readyz with code, recording user
// agents and connections.
type fakeAPI struct {
	*httptest.Server
	mu     sync.Mutex
	code   int
	agents []string
	conns  int
}

func startAPI(t *testing.T, p pki) *fakeAPI {
	t.Helper()
	f := &fakeAPI{code: http.StatusOK}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.agents = append(f.agents, r.UserAgent())
		if r.URL.Path != "/readyz" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(f.code)
		if f.code != http.StatusOK {
			// What kube-apiserver answers after SIGTERM.
			_, _ = w.Write([]byte("[+]ping ok\n[+]etcd ok\n[-]shutdown failed: reason withheld\nreadyz check failed\n"))
		}
	}))
	f.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.mu.Lock()
			f.conns++
			f.mu.Unlock()
		}
	}
	f.TLS = &tls.Config{Certificates: []tls.Certificate{p.cert}}
	f.StartTLS()
	t.Cleanup(f.Close)
	return f
}

// kubeconfig writes a kubeconfig whose server is server (the VIP's name,
// never dialled here) and whose CA is ca.
func kubeconfig(t *testing.T, server string, ca []byte, tlsName string, insecure bool) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["c"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca, TLSServerName: tlsName, InsecureSkipTLSVerify: insecure}
	kc.AuthInfos["u"] = &clientcmdapi.AuthInfo{}
	kc.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	kc.CurrentContext = "c"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func probeOnce(t *testing.T, kubeconfigPath, server string) error {
	t.Helper()
	cfg := Config{Server: server, Interval: time.Second, Timeout: 2 * time.Second / 3, Rise: 1, Fall: 1}
	client, err := kube.LocalClient(kube.LocalOptions{Kubeconfig: kubeconfigPath, Server: server, Node: "node-a",
		Purpose: "api-server-check", Timeout: cfg.Timeout})
	if err != nil {
		t.Fatalf("LocalClient: %v", err)
	}
	u, err := readyzURL(server)
	if err != nil {
		t.Fatal(err)
	}
	return readyz(client, u)(t.Context())
}

// TestReadyzTrust: the check dials the one server it is given, verifies
// it with the kubeconfig's CA against the kubeconfig server's name (not
// the address it dials), and a certificate for another name, or from
// another CA, fails the probe.
func TestReadyzTrust(t *testing.T) {
	good := newPKI(t, servingName)
	api := startAPI(t, good)
	other := newPKI(t, "other.vipkeeper.test")
	// The VIP's name is never resolved: only the address of --api-server
	// is dialled.
	vipServer := "https://" + servingName + ":6443"

	tests := []struct {
		name       string
		kubeconfig string
		wantReason string // "" for a good probe
	}{
		{"kubeconfig server name", kubeconfig(t, vipServer, good.caPEM, "", false), ""},
		{"tls-server-name wins", kubeconfig(t, "https://192.0.2.10:6443", good.caPEM, servingName, false), ""},
		{"name not in the certificate", kubeconfig(t, "https://wrong.vipkeeper.test:6443", good.caPEM, "", false), "tls: certificate is not valid for the host"},
		{"another CA", kubeconfig(t, vipServer, other.caPEM, "", false), "tls: certificate signed by unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := probeOnce(t, tt.kubeconfig, api.URL)
			switch {
			case tt.wantReason == "" && err != nil:
				t.Fatalf("probe failed: %v", err)
			case tt.wantReason != "" && err == nil:
				t.Fatalf("probe succeeded, want %q", tt.wantReason)
			case tt.wantReason != "" && health.ShortReason(err) != tt.wantReason:
				t.Fatalf("probe error %v: reason %q, want %q", err, health.ShortReason(err), tt.wantReason)
			}
		})
	}

	api.mu.Lock()
	api.code = http.StatusInternalServerError
	api.mu.Unlock()
	if err := probeOnce(t, tests[0].kubeconfig, api.URL); err == nil || err.Error() != "status 500: shutdown" {
		t.Errorf("not-ready server: got %v, want status 500: shutdown", err)
	}

	api.mu.Lock()
	defer api.mu.Unlock()
	// Every good TLS probe reached the handler on a connection of its own.
	if api.conns < 4 {
		t.Errorf("%d connections for 4 probes that got past TLS and 2 that did not: connections must not be reused", api.conns)
	}
	for _, ua := range api.agents {
		if !strings.HasPrefix(ua, "vipkeeper/") || !strings.HasSuffix(ua, " (node-a) api-server-check") {
			t.Errorf("user agent %q does not name vipkeeper, the node and the check", ua)
		}
	}
}

// TestLocalClientRefusesUnverifiable: a check that cannot verify its
// server is refused at start-up, naming the flag.
func TestLocalClientRefusesUnverifiable(t *testing.T) {
	for name, path := range map[string]string{
		"no CA":    kubeconfig(t, "https://"+servingName+":6443", nil, "", false),
		"insecure": kubeconfig(t, "https://"+servingName+":6443", nil, "", true),
	} {
		_, err := kube.LocalClient(kube.LocalOptions{Kubeconfig: path, Server: "https://127.0.0.1:6443", Timeout: time.Second})
		var fe *kube.FieldError
		if !errors.As(err, &fe) || fe.Field != "api-server-check" || !errors.Is(err, kube.ErrUnverifiable) {
			t.Errorf("%s: got %v, want a FieldError of api-server-check wrapping ErrUnverifiable", name, err)
		}
	}
}
