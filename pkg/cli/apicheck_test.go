package cli

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"k8s.io/klog/v2"

	"github.com/vipkeeper/vipkeeper/pkg/config"
)

// testCA is a self-signed CA certificate in PEM.
func testCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestNewDaemonAPIServerCheck: with --api-server-check the daemon runs
// one more component; a kubeconfig without a CA is refused, naming the
// flag.
func TestNewDaemonAPIServerCheck(t *testing.T) {
	iface := hostInterface(t)
	t.Cleanup(klog.ClearLogger)
	withCA := func(ca []byte) string { return writeKubeconfig(t, "https://cp.vipkeeper.test:6443", ca) }
	load := func(kubeconfig string) *config.Config {
		cfg, err := config.Load(config.Sources{Args: []string{"--vip", "192.0.2.100", "--interface", iface, "--node-name", "n1",
			"--metrics-addr", "", "--kubeconfig", kubeconfig, "--api-server", "https://127.0.0.1:6443,https://198.51.100.2:6443",
			"--api-server-check"}, LookupEnv: func(string) (string, bool) { return "", false }})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}

	d, err := newDaemon(load(withCA(testCA(t))), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	// binder, announcer, watchdog, guard, prober, claims, links,
	// sdnotify, the API server check, Events, the witness
	if got, want := len(d.components), 11; got != want {
		t.Errorf("%d components, want %d", got, want)
	}

	_, err = newDaemon(load(withCA(nil)), &bytes.Buffer{})
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Source != "--api-server-check" || !strings.Contains(err.Error(), "no certificate authority") {
		t.Errorf("newDaemon = %v, want an --api-server-check error about the missing CA", err)
	}
}
